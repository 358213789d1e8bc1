"""A user's own images (``--data folder:PATH``): loading, the one-line errors, and the anomaly
task on a folder built from the embedded digits."""

import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image

from genflows import load_config
from genflows.data import dataset_info, load_dataset, load_split
from genflows.data.folder import load_folder, load_labelled_folder
from genflows.errors import GenflowsError
from genflows._runtime.output import RunDir
from genflows.tasks import anomaly

from ..cli_helpers import run_cli


def _save(path, a, mode="L"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a, mode).save(path)


@pytest.fixture(scope="module")
def digits_folder(tmp_path_factory):
    """train/: 300 digits other than 4; test/normal: 60 more; test/anomalous: 30 fours (8-bit PNGs)."""
    root = tmp_path_factory.mktemp("mine")
    x, y = load_dataset("digits")
    u8 = ((x[:, 0] + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()
    normal, fours = np.flatnonzero(y.numpy() != 4), np.flatnonzero(y.numpy() == 4)
    for k, i in enumerate(normal[:360]):
        _save(root / ("train" if k < 300 else "test/normal") / f"d{i:04d}.png", u8[i])
    for i in fours[:30]:
        _save(root / "test/anomalous" / f"d{i:04d}.png", u8[i])
    return root, u8


def test_a_folder_loads_as_the_built_in_sets_are_scaled(digits_folder):
    root, u8 = digits_folder
    x, files = load_folder(f"folder:{root / 'train'}")
    assert x.shape == (300, 1, 8, 8) and len(files) == 300 and dataset_info(f"folder:{root / 'train'}").shape == (1, 8, 8)
    assert x.min() >= -1 and x.max() <= 1
    i = int(files[0].stem[1:])
    assert torch.allclose(x[0, 0], torch.from_numpy(u8[i]).float() / 127.5 - 1)
    train, test = load_split(f"folder:{root / 'train'}")
    assert len(train) == 240 and len(test) == 60  # no published split: the fixed 80/20 one
    assert load_folder(f"folder:{root / 'train'}", image_size=16)[0].shape == (300, 1, 16, 16)
    t, is_anom, tf = load_labelled_folder(root / "test", f"folder:{root / 'train'}")
    assert t.shape == (90, 1, 8, 8) and int(is_anom.sum()) == 30 and all(f.parent.name == ("anomalous" if a else "normal") for f, a in zip(tf, is_anom))


def test_rgb_images_load_with_three_channels(tmp_path):
    _save(tmp_path / "a.png", np.zeros((6, 6), np.uint8))
    _save(tmp_path / "b.png", np.full((6, 6, 3), [255, 0, 0], np.uint8), "RGB")
    x, _ = load_folder(f"folder:{tmp_path}")
    assert x.shape == (2, 3, 6, 6) and torch.allclose(x[1, :, 0, 0], torch.tensor([1.0, -1.0, -1.0]))


@pytest.mark.parametrize("case, message", [
    ("missing", "image folder not found: "),
    ("empty", "no images in "),
    ("unreadable", "cannot read image "),
    ("mixed", "images of mixed sizes: "),
])
def test_bad_folders_are_one_line_errors(tmp_path, case, message):
    folder = tmp_path / "imgs"
    if case != "missing":
        folder.mkdir()
        (folder / "notes.txt").write_text("not an image")  # other files are ignored
    if case == "unreadable":
        (folder / "broken.png").write_bytes(b"\x89PNG truncated")
    if case == "mixed":
        _save(folder / "a.png", np.zeros((8, 8), np.uint8))
        _save(folder / "b.png", np.zeros((9, 8), np.uint8))
    with pytest.raises(GenflowsError) as e:
        load_config("abp", extra={"data": {"name": f"folder:{folder}"}})
    assert message in str(e.value) and "\n" not in str(e.value)
    if case == "mixed":  # named size: resized alike
        assert load_config("abp", extra={"data": {"name": f"folder:{folder}", "image_size": 8}}).data.image_size == 8


def test_a_test_folder_without_its_subfolders_or_of_another_size_is_refused(digits_folder, tmp_path):
    root, _ = digits_folder
    (tmp_path / "normal").mkdir()
    with pytest.raises(GenflowsError, match="has no 'anomalous/' subfolder"):
        load_labelled_folder(tmp_path, f"folder:{root / 'train'}")
    _save(tmp_path / "normal" / "a.png", np.zeros((9, 9), np.uint8))
    _save(tmp_path / "anomalous" / "b.png", np.zeros((9, 9), np.uint8))
    with pytest.raises(GenflowsError, match="test images in .* are 9x9, the training images 8x8; set data.image_size"):
        load_labelled_folder(tmp_path, f"folder:{root / 'train'}")


@pytest.mark.parametrize("model", ["abp", "flow"])
def test_the_anomaly_task_scores_my_folder_and_writes_a_ranked_table(digits_folder, tmp_path, model):
    root, _ = digits_folder
    small = (["inference.n_steps=3", "anomaly.score_steps=5", "anomaly.score_checkpoints=[]"] if model == "abp"
             else ["coop.flow_depth=2", "coop.flow_hidden=16", "coop.flow_levels=1", "coop.lr_warmup_iters=0", "coop.flow_lr=1e-3"])
    cfg = load_config(model, overrides=[*small, "train.epochs=3"],
                      extra={"data": {"name": f"folder:{root / 'train'}", "test_folder": str(root / "test")}})
    m = anomaly.run(cfg, RunDir(tmp_path))
    assert m["n_train"] == 300 and m["n_test"] == 90 and abs(m["anomaly_fraction"] - 1 / 3) < 1e-9
    rows = list(csv.DictReader((tmp_path / "scores.csv").open()))
    assert len(rows) == 90 and [int(r["rank"]) for r in rows] == list(range(1, 91))
    main = [float(r[m["score"]]) for r in rows]
    assert main == sorted(main, reverse=True)
    assert all(("anomalous" in r["file"]) == (r["is_anomaly"] == "1") for r in rows)
    assert json.loads((tmp_path / "metrics.json").read_text())["auprc"] == m["auprc"]


def test_the_cli_refuses_a_missing_folder_in_one_line(tmp_path, capsys):
    code, out, err = run_cli(["run", "abp", "--data", f"folder:{tmp_path / 'nope'}", "--out", str(tmp_path / "run")], capsys)
    assert code == 2 and err.strip().count("\n") == 0 and "image folder not found" in err
    assert not (tmp_path / "run").exists()


def test_the_cli_trains_on_a_folder_of_mixed_sizes_when_told_one(tmp_path, capsys):
    for i, side in enumerate((8, 9, 8, 10)):
        _save(tmp_path / "imgs" / f"{i}.png", np.full((side, side), 40 * i, np.uint8))
    argv = ["run", "abp", "--task", "generation", "--data", f"folder:{tmp_path / 'imgs'}", "--epochs", "1", "--no-tensorboard",
            "--set", "eval.fid_n=0", "--set", "inference.n_steps=2", "--out", str(tmp_path / "run")]
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and "images of mixed sizes" in err
    code, _, err = run_cli([*argv, "--set", "data.image_size=8"], capsys)
    assert code == 0, err
    assert (tmp_path / "run" / "metrics.json").is_file()
