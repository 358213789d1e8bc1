import os
from pathlib import Path

import pytest
import torch

# Tests use tiny networks; two threads match CI's 2-core machine (GENFLOWS_TEST_THREADS=1 when
# something else is using the cores: oversubscribed OpenMP threads slow small ops down 100x).
torch.set_num_threads(int(os.environ.get("GENFLOWS_TEST_THREADS", "2")))

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def mnist_root() -> str | None:
    """A data root holding MNIST (GENFLOWS_DATA, else ../shared/data beside the repo)."""
    for cand in (os.environ.get("GENFLOWS_DATA"), str(SHARED_DATA)):
        if cand and ((Path(cand) / "MNIST" / "raw").is_dir() or (Path(cand) / "mnist" / "MNIST" / "raw").is_dir()):
            return cand
    return None


@pytest.fixture
def mnist_data_root():
    root = mnist_root()
    if root is None:
        pytest.skip("MNIST not available: set GENFLOWS_DATA to a root holding MNIST/raw/*.gz")
    return root


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _no_watching_unless_tested(request, monkeypatch):
    """Watching (TensorBoard events, curves.png, epoch sample grids) never changes a run's numbers
    and is tested in test_watch.py / test_show.py; elsewhere in-process runs skip it to keep the
    suite fast. Subprocess runs (torchrun, CLI subprocesses) still watch."""
    if request.module.__name__.rsplit(".", 1)[-1] in ("test_watch", "test_show"):
        return
    from genflows.tasks import _fit

    monkeypatch.setattr(_fit, "watch", lambda out, cfg, seed=0, start_step=0: None)
