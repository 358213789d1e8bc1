import os
import tempfile
from pathlib import Path

import pytest
import torch

from genflows._runtime.threads import default_threads  # noqa: E402

# Tests use tiny networks: at most two threads (CI's 2-core machine), fewer where other processes
# hold cores (oversubscribed OpenMP threads spin and slow small ops down 100x); GENFLOWS_TEST_THREADS
# chooses. Every run inside the suite then takes the same count without sampling the machine again.
_THREADS = int(os.environ.get("GENFLOWS_TEST_THREADS") or min(2, default_threads()))
torch.set_num_threads(_THREADS)
os.environ.setdefault("GENFLOWS_THREADS", str(_THREADS))
# FID's cached real features go to a folder of this run, never the user's cache
os.environ["GENFLOWS_CACHE"] = tempfile.mkdtemp(prefix="genflows-test-cache-")

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
