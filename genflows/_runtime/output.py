"""The one output writer tasks use: metrics JSON, image grids, figures, config, checkpoints,
all written atomically into a run folder that is created on first write. Under torchrun only
rank 0 writes; on the other ranks every method returns the path without touching the disk."""

from __future__ import annotations

import io as _io
from pathlib import Path
from typing import Any

import torch
import yaml

from . import distributed as dist
from .io import write_bytes, write_json, write_text

__all__ = ["RunDir", "pyplot", "image_grid", "GRID_MIN_WIDTH"]

# Grids narrower than this are enlarged: a 64-sample grid of 8x8 digits would be 72 pixels wide.
GRID_MIN_WIDTH = 400


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend (no display on servers, imported only when a
    figure is drawn: importing it costs start-up time)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def image_grid(images: torch.Tensor, nrow: int = 8, min_width: int = GRID_MIN_WIDTH) -> torch.Tensor:
    """Images in [-1, 1] (N, C, H, W) as one (C', H', W') grid in [0, 1], each image enlarged by
    the smallest whole factor (nearest neighbour: pixels stay sharp squares, no invented detail)
    that makes the grid at least ``min_width`` pixels wide; cells are separated by grey lines."""
    from torchvision.utils import make_grid

    x = images.detach().cpu().float().clamp(-1, 1) * 0.5 + 0.5
    cols = max(1, min(nrow, x.shape[0]))
    factor = max(1, -(-min_width // (cols * x.shape[-1])))
    if factor > 1:
        x = x.repeat_interleave(factor, dim=-2).repeat_interleave(factor, dim=-1)
    return make_grid(x, nrow=nrow, padding=2, pad_value=0.5)


def png_bytes(grid: torch.Tensor) -> bytes:
    """A (C, H, W) image in [0, 1] as PNG bytes (8 bits per channel, rounded like save_image)."""
    from PIL import Image

    arr = grid.mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
    buf = _io.BytesIO()
    Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr).save(buf, format="png")
    return buf.getvalue()


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        # The folder's genflows.watch.Watcher once training opens one (genflows.watch.watch);
        # :meth:`close` finishes its event file.
        self.watcher = None

    def close(self) -> None:
        """Flush and close the event writer, if any (the runner calls this after the task)."""
        if self.watcher is not None:
            self.watcher.close()

    def file(self, name: str) -> Path:
        return self.path / name

    def json(self, name: str, obj: Any) -> Path:
        if not dist.is_main():
            return self.file(name)
        write_json(self.file(name), obj)
        return self.file(name)

    def text(self, name: str, text: str) -> Path:
        if dist.is_main():
            write_text(self.file(name), text)
        return self.file(name)

    def config(self, cfg_dict: dict, name: str = "config.yaml") -> Path:
        return self.text(name, yaml.safe_dump(cfg_dict, sort_keys=False))

    def image_grid(self, name: str, images: torch.Tensor, nrow: int = 8) -> Path:
        """Save images in [-1, 1] (N, C, H, W) as one PNG grid, enlarged to a readable size
        (:func:`image_grid`)."""
        if not dist.is_main():
            return self.file(name)
        write_bytes(self.file(name), png_bytes(image_grid(images, nrow)))
        return self.file(name)

    def figure(self, name: str, fig, dpi: int = 120, tight: bool = True) -> Path:
        """Save a matplotlib figure as PNG and close it; ``tight=False`` keeps the figure's own
        margins (a tight bounding box draws the figure twice)."""
        import matplotlib.pyplot as plt

        if not dist.is_main():
            plt.close(fig)
            return self.file(name)
        buf = _io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight" if tight else None)
        plt.close(fig)
        write_bytes(self.file(name), buf.getvalue())
        return self.file(name)
