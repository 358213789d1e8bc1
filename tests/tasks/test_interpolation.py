import torch

from genflows import load_config
from genflows._runtime.output import RunDir
from genflows.tasks import interpolation


def test_interpolate_is_a_straight_line_with_both_ends():
    a, b = torch.zeros(2, 3), torch.ones(2, 3)
    line = interpolation.interpolate(a, b, 5)
    assert line.shape == (2, 5, 3)
    assert torch.equal(line[:, 0], a) and torch.equal(line[:, -1], b)
    assert torch.allclose(line[0, :, 0], torch.tensor([0, 0.25, 0.5, 0.75, 1.0]))


def test_interpolation_runs_end_to_end(tmp_path):
    cfg = load_config("abp", overrides=["inference.n_steps=5", "train.epochs=2", "eval.steps=20", "eval.interp_pairs=3", "eval.interp_points=6"])
    metrics = interpolation.run(cfg, RunDir(tmp_path))
    assert metrics["pairs"] == 3 and (tmp_path / "interpolation.png").is_file()


def test_vapo_interpolates_between_inverted_test_images(tmp_path):
    """As the VAPO authors do: each image's code by the ODE run backward, the line between two
    codes decoded forward; the ends come back as the images (end-point MSE at the solver's error)."""
    cfg = load_config("vapo", overrides=["vapo.base=8", "vapo.mults=[1]", "vapo.blocks=1", "vapo.groups=4", "train.epochs=1",
                                         "train.max_iters=3", "eval.interp_pairs=2", "eval.interp_points=4"])
    metrics = interpolation.run(cfg, RunDir(tmp_path))
    assert metrics["pairs"] == 2 and (tmp_path / "interpolation.png").is_file()
    assert metrics["end_mse"] < 1e-3
