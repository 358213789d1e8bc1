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

__all__ = ["RunDir", "pyplot"]


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend (no display on servers, imported only when a
    figure is drawn: importing it costs start-up time)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    def file(self, name: str) -> Path:
        return self.path / name

    def json(self, name: str, obj: Any) -> Path:
        if not dist.is_main():
            return self.file(name)
        write_json(self.file(name), obj)
        return self.file(name)

    def config(self, cfg_dict: dict, name: str = "config.yaml") -> Path:
        if not dist.is_main():
            return self.file(name)
        write_text(self.file(name), yaml.safe_dump(cfg_dict, sort_keys=False))
        return self.file(name)

    def image_grid(self, name: str, images: torch.Tensor, nrow: int = 8) -> Path:
        """Save images in [-1, 1] (N, C, H, W) as one PNG grid."""
        if not dist.is_main():
            return self.file(name)
        from torchvision.utils import save_image

        buf = _io.BytesIO()
        save_image(images.detach().cpu().clamp(-1, 1) * 0.5 + 0.5, buf, nrow=nrow, padding=1, format="png")
        write_bytes(self.file(name), buf.getvalue())
        return self.file(name)

    def figure(self, name: str, fig) -> Path:
        import matplotlib.pyplot as plt

        if not dist.is_main():
            plt.close(fig)
            return self.file(name)
        buf = _io.BytesIO()
        fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
        plt.close(fig)
        write_bytes(self.file(name), buf.getvalue())
        return self.file(name)
