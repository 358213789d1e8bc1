import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_composition_example_runs_and_detects_anomalies():
    text = README.read_text()
    section = text.split("## Composing a model in Python", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(code, "README.md", "exec"), {})
    value = float(buf.getvalue().strip().splitlines()[-1])
    assert value > 0.5  # anomaly fraction of the digits test split is 0.36


def test_readme_starts_with_the_two_setup_commands():
    text = README.read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    assert blocks[0].strip() == "pip install -e . && genflows run lfbm-mcmc --task anomaly --holdout 4"
    assert blocks[1].strip() == 'pip install -e ".[test]" && python -m pytest'
    assert blocks[1].strip() in (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
