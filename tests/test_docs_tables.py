"""The result tables in docs/results.md and README.md agree with their records (docs/tables.py)."""

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tables():
    spec = importlib.util.spec_from_file_location("doc_tables", ROOT / "docs" / "tables.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _copy_of_the_documents_and_records(tmp_path: Path):
    """The tables module, and a copy of the documents and records under ``tmp_path`` to change."""
    tables = _tables()
    for rel in [*tables.DOCUMENTS, "experiments/results", "bench/results"]:
        src, dst = ROOT / rel, tmp_path / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dst)
    return tables


def test_every_generated_table_matches_its_records():
    res = subprocess.run([sys.executable, str(ROOT / "docs" / "tables.py"), "--check"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "checked: " in res.stdout and int(res.stdout.split()[1]) >= 3


def test_a_changed_record_makes_the_check_fail(tmp_path):
    tables = _copy_of_the_documents_and_records(tmp_path)
    assert tables.sync(check=True, root=tmp_path) == []
    f = tmp_path / "experiments/results/anomaly-every-family-digits.json"
    r = json.loads(f.read_text())
    r["rows"][0]["auprc"]["values"][0] += 0.01
    f.write_text(json.dumps(r))
    drifted = tables.sync(check=True, root=tmp_path)
    assert "docs/results.md: table 'anomaly-every-family-digits'" in drifted
    tables.sync(check=False, root=tmp_path)  # regenerated: in step again
    assert tables.sync(check=True, root=tmp_path) == []


def test_every_table_of_the_results_document_is_generated_or_says_it_has_no_record():
    """A hand-written table is one nobody checks: each table is generated from its records, or the
    paragraph under it starts with "No record:" and says why."""
    lines = (ROOT / "docs" / "results.md").read_text().split("\n")
    inside, unmarked = False, []
    for i, line in enumerate(lines):
        if line.startswith("<!-- table:"):
            inside = True
        elif line.startswith("<!-- /table:"):
            inside = False
        elif not inside and line.startswith("|") and i + 1 < len(lines) and lines[i + 1].startswith("|---"):
            end = i + 1
            while end < len(lines) and lines[end].startswith("|"):
                end += 1
            caption = next((x for x in lines[end:] if x.strip()), "")
            if not caption.startswith("No record:"):
                unmarked.append(f"line {i + 1}: {line[:60]}")
    assert unmarked == [], unmarked


def test_baseline_cells_at_the_papers_schedule_fill_the_tables_as_they_land(tmp_path):
    """A baseline's digit-4 cell in table4-paper.json shows up, generated, in README's Table 4, the
    per-seed table and the glance row, with LFBM-MCMC's lead over it in standard errors."""
    import statistics

    tables = _copy_of_the_documents_and_records(tmp_path)
    f = tmp_path / "experiments/results/table4-paper.json"
    rec = json.loads(f.read_text())
    cell = json.loads(json.dumps(next(c for c in rec["cells"] if c["model"] == "lfbm-mcmc" and len(c["seeds"]) >= 3)))
    for x, (clean, ref) in zip(cell["seeds"], [(0.70, 0.71), (0.72, 0.74), (0.74, 0.75)]):
        x["auprc_clean"], x["auprc_reference"] = clean, ref
    cell.update(model="abp", holdout=4, paper="0.138 ± 0.037")
    rec["cells"].append(cell)
    vae = json.loads(json.dumps(cell))  # the VAE row, trained as a plain VAE: named so beside the VAE-IAF rows
    vae.update(model="vae", paper="0.337", model_overrides=["inference.iaf_depth=0"])
    rec["cells"].append(vae)
    f.write_text(json.dumps(rec))
    assert "docs/results.md: table 'glance'" in tables.sync(check=True, root=tmp_path)
    tables.sync(check=False, root=tmp_path)

    readme, results = (tmp_path / "README.md").read_text(), (tmp_path / "docs/results.md").read_text()
    assert "| abp, the paper's 21 epochs, clean split, eval mode, 400 steps | – | 0.720 ± 0.020 (n=3) |" in readme
    assert "| abp, the paper's 21 epochs, the reference code's scoring | – | 0.733 ± 0.021 (n=3) |" in readme
    assert "| abp | 4 | 2 |" in results and "| abp | 4 | the paper (ABP, 10 runs) | | 0.138 ± 0.037 |" in results
    (row,) = [line for line in results.split("\n") if line.startswith("| `abp` (baseline) Table 4, digit 4")]
    lfbm = tables._digit4_lfbm()[0]
    lead = statistics.fmean(lfbm) - 0.72
    se = (statistics.variance(lfbm) / len(lfbm) + 0.02**2 / 3) ** 0.5
    assert f"LFBM-MCMC ahead by {lead:.3f} ({lead / se:.1f} standard errors) clean" in row
    assert "differs: over by 0.582" in row  # against the paper's ABP row
    assert "| vae (`inference.iaf_depth=0`), the paper's 21 epochs, clean split, eval mode, 400 steps | – | 0.720 ± 0.020 (n=3) |" in readme
    assert "| vae (`inference.iaf_depth=0`) | 4 | the paper (VAE, 10 runs) | | 0.337 |" in results
    assert any(line.startswith("| `vae` (`inference.iaf_depth=0`) (baseline) Table 4, digit 4") for line in results.split("\n"))
    # The line above README's Table 4 follows: both cells measured, neither still to come.
    status = next(line for line in readme.split("\n") if line.startswith("Measured: "))
    assert "abp at digit 4, 3 seeds" in status and "vae (`inference.iaf_depth=0`) at digit 4, 3 seeds" in status
    assert "abp at digit 4," not in status.split("Still to come")[1].split("Chains")[0]


def test_the_line_above_table_4_says_what_landed_what_is_to_come_and_how_each_seed_trained(tmp_path):
    """A cell with fewer seeds than the budget asks is still to come (with its count so far), and a
    seed resumed on another kind of machine names both of its setups, in order."""
    tables = _copy_of_the_documents_and_records(tmp_path)
    f = tmp_path / "experiments/results/table4-paper.json"
    rec = json.loads(f.read_text())
    cell = json.loads(json.dumps(next(c for c in rec["cells"] if c["model"] == "lfbm-mcmc" and len(c["seeds"]) >= 3)))
    # Digit 1 stands in, whatever the record holds of it by now.
    cell.update(holdout=1, seeds=cell["seeds"][:2])
    rec["cells"] = [c for c in rec["cells"] if not (c["model"] == "lfbm-mcmc" and c["holdout"] == 1)]
    one, two = cell["seeds"]
    one.update(seed=1, chain_dtype="bfloat16", capability="AVX512", train_machines=None)
    two.update(seed=2, train_machines=[{"first_epoch": 1, "chain_dtype": "float32", "capability": "AVX2"},
                                       {"first_epoch": 9, "chain_dtype": "bfloat16", "capability": "AVX512"}])
    rec["cells"].append(cell)
    f.write_text(json.dumps(rec))
    tables.set_root(tmp_path)
    try:
        status = tables.readme_table4_status()
    finally:
        tables.set_root(ROOT)
    assert "lfbm-mcmc at digit 1, 2 seeds" in status
    assert "lfbm-mcmc at digit 1 (2 of 3 seeds so far)" in status.split("Still to come")[1]
    assert "digit 1's seed 1 bf16 (AVX-512), seed 2 float32 (AVX2) then bf16 (AVX-512)." in status
    assert "digit 4's seed 1 float32 (AVX2), seeds 2-5 bf16 (AVX-512)" in status
