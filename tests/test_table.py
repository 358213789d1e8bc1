import pytest

from genflows.cli import main


def test_anomaly_table_runs_collects_and_prints_paper_rows(tmp_path, capsys):
    args = ["table", "anomaly", "--models", "lfbm-mcmc,abp", "--holdouts", "4", "--seeds", "1", "--out", str(tmp_path),
            "--set", "train.epochs=2", "--set", "inference.n_steps=3", "--set", "anomaly.score_steps=5", "--set", "anomaly.score_checkpoints=[]"]
    with pytest.raises(SystemExit) as e:
        main(args)
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "| lfbm-mcmc (ours, digits) |" in out and "| LFBM (paper, MNIST) | 0.812 ± 0.007 |" in out
    chance = next(line for line in out.splitlines() if line.startswith("| chance level"))
    assert "protocol meg" in chance and 0.3 < float(chance.split("|")[2]) < 0.4  # held-out digit: 36 % of the meg test set
    csv_text = (tmp_path / "table.csv").read_text()
    assert csv_text.count("\n") == 3  # header + 2 cells
    # A second call reads the finished runs back instead of training again.
    mtime = (tmp_path / "abp-h4" / "metrics.json").stat().st_mtime_ns
    with pytest.raises(SystemExit):
        main(args)
    assert (tmp_path / "abp-h4" / "metrics.json").stat().st_mtime_ns == mtime
