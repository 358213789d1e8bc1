import numpy as np
import pytest

from genflows.data import anomaly_split, check_available, load_anomaly_split, load_dataset, load_split
from genflows.errors import GenflowsError


def test_digits_loads_in_range():
    x, y = load_dataset("digits")
    assert x.shape == (1797, 1, 8, 8) and y.shape == (1797,)
    assert x.min() == -1.0 and x.max() == 1.0


def test_split_is_pure_and_disjoint_on_digits():
    x, y = load_dataset("digits")
    a = anomaly_split(x, y, holdout=4)
    np.random.seed(123)
    np.random.rand(1000)  # consuming the global RNG must not change the split
    b = anomaly_split(x, y, holdout=4)
    assert np.array_equal(a.train_index, b.train_index) and np.array_equal(a.test_index, b.test_index)
    assert not set(a.train_index) & set(a.test_index)
    assert (y[a.train_index] != 4).all()
    n_normal = int((y != 4).sum())
    assert len(a.train_index) == int(0.8 * n_normal)
    assert a.test_is_anomaly.sum() == (y == 4).sum()
    assert len(a.train_index) + len(a.test_index) == len(y)


def test_mnist_split_has_the_protocol_sizes(mnist_data_root):
    x, y = load_dataset("mnist", mnist_data_root)
    assert x.shape == (70000, 1, 28, 28)
    assert np.bincount(y.numpy()[:60000]).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    s = anomaly_split(x, y, holdout=4)
    assert len(s.train_index) == 50540 and len(s.test_index) == 19460
    assert int(s.test_is_anomaly.sum()) == 6824
    assert not set(s.train_index.tolist()) & set(s.test_index.tolist())
    assert (y[s.train_index] != 4).all()
    assert x.min() == -1.0 and x.max() == 1.0


def test_mnist_test_protocol_trains_on_the_official_train_split(mnist_data_root):
    s = load_anomaly_split("mnist", 4, "mnist-test", mnist_data_root)
    assert len(s.train_index) == 60000 - 5842 and (s.train_index < 60000).all()
    assert s.test_index.tolist() == list(range(60000, 70000))
    assert int(s.test_is_anomaly.sum()) == 982  # anomaly fraction 0.0982, against 0.351 under meg
    assert len(load_anomaly_split("mnist", 4, "meg", mnist_data_root).train_index) == 50540


def test_mnist_test_protocol_on_digits_uses_the_fixed_split():
    s = load_anomaly_split("digits", 4, "mnist-test")
    train, test = load_split("digits")
    assert s.test.shape == test.shape and bool((s.test == test).all())
    assert not set(s.train_index) & set(s.test_index)
    y = load_dataset("digits")[1].numpy()[np.random.RandomState(0).permutation(1797)]
    assert len(s.train) == int((y[: train.shape[0]] != 4).sum())
    assert 0.05 < float(s.test_is_anomaly.float().mean()) < 0.15
    with pytest.raises(ValueError, match="unknown anomaly protocol"):
        anomaly_split(*load_dataset("digits"), holdout=4, protocol="leaky")


def test_missing_mnist_names_the_file(tmp_path):
    with pytest.raises(GenflowsError) as e:
        check_available("mnist", str(tmp_path))
    msg = str(e.value)
    assert "\n" not in msg
    assert str(tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte.gz") in msg
    assert "--download" in msg


def test_truncated_idx_file_is_a_user_error(tmp_path, mnist_data_root):
    import gzip
    from pathlib import Path

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    src = next(p for p in (Path(mnist_data_root) / "MNIST" / "raw", Path(mnist_data_root) / "mnist" / "MNIST" / "raw") if p.is_dir())
    for f in src.iterdir():
        (raw / f.name).write_bytes(f.read_bytes())
    (raw / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x27\x10" + b"\x01" * 10))
    with pytest.raises(GenflowsError, match="truncated"):
        load_dataset("mnist", str(tmp_path))


def test_standard_splits():
    from genflows.data import load_split

    tr, te = load_split("digits")
    assert tr.shape == (1437, 1, 8, 8) and te.shape == (360, 1, 8, 8)
    tr2, _ = load_split("digits")
    assert np.array_equal(tr.numpy(), tr2.numpy())  # fixed


def test_mnist_standard_split(mnist_data_root):
    from genflows.data import load_split

    tr, te = load_split("mnist", mnist_data_root)
    assert tr.shape == (60000, 1, 28, 28) and te.shape == (10000, 1, 28, 28)


def test_missing_cifar10_names_the_file_and_how_to_get_it(tmp_path):
    with pytest.raises(GenflowsError) as e:
        check_available("cifar10", str(tmp_path))
    msg = str(e.value)
    assert "\n" not in msg and str(tmp_path / "cifar-10-batches-py" / "data_batch_1") in msg and "--download" in msg


def test_random_hflip_mirrors_about_half_the_images_with_their_masks_and_cifar10_flips_by_default():
    import torch

    from genflows.data import DATASETS, random_hflip

    x = torch.randn(400, 1, 4, 4)
    m = (torch.rand(400, 1, 4, 4) > 0.5).float()
    y, ym = random_hflip(x, m, torch.Generator().manual_seed(0))
    flipped = torch.tensor([torch.equal(a, b.flip(-1)) for a, b in zip(y, x)])
    assert 150 < int(flipped.sum()) < 250
    assert all(torch.equal(a, b.flip(-1) if f else b) for a, b, f in zip(ym, m, flipped.tolist()))
    assert DATASETS["cifar10"].hflip and not DATASETS["mnist"].hflip
