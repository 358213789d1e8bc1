import torch
from PIL import Image

from genflows._runtime.output import GRID_MIN_WIDTH, RunDir, image_grid


def test_small_images_are_enlarged_by_whole_nearest_neighbour_factors(tmp_path):
    x = torch.rand(64, 1, 8, 8) * 2 - 1
    grid = image_grid(x)
    assert grid.shape[-1] >= GRID_MIN_WIDTH  # was 72 pixels wide at 8x8
    # Each source pixel became a constant block (no interpolation): the first image, upper left.
    factor = (grid.shape[-1] - 2 * 9) // (8 * 8)
    block = grid[0, 2 : 2 + factor, 2 : 2 + factor]
    assert factor >= 2 and torch.all(block == block[0, 0])
    assert block[0, 0].item() == (x[0, 0, 0, 0].clamp(-1, 1) * 0.5 + 0.5).item()
    path = RunDir(tmp_path).image_grid("samples.png", x)
    with Image.open(path) as im:
        assert im.size[0] >= GRID_MIN_WIDTH and im.size == (grid.shape[-1], grid.shape[-2])


def test_large_images_are_left_at_their_size():
    grid = image_grid(torch.zeros(16, 3, 64, 64), nrow=8)
    assert grid.shape[-1] == 8 * 64 + 9 * 2


def test_the_checkpoint_a_resume_reads_is_written_after_its_copies(tmp_path, monkeypatch):
    """A kill between the files then leaves no checkpoint.pt naming a best epoch never copied."""
    from genflows._runtime import io

    order, real = [], io.write_bytes
    monkeypatch.setattr(io, "write_bytes", lambda p, data: (order.append(p.name), real(p, data)))
    io.save_checkpoint(tmp_path / "checkpoint.pt", {"model": {}}, tmp_path / "checkpoint-best.pt", tmp_path / "checkpoint-epoch3.pt")
    assert order == ["checkpoint-best.pt", "checkpoint-epoch3.pt", "checkpoint.pt"]
    assert io.load_checkpoint(tmp_path / "checkpoint-best.pt") == {"model": {}}
