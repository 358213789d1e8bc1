"""DDP on CPU with 2 gloo processes: same parameters as one process on the same global batch,
rank-consistent state for models with data-dependent initialisation, gathered evaluation equal
to a single process's, and one set of outputs from a torchrun launch."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as tdist
import torch.multiprocessing as mp

from genflows import GaussianPrior, LangevinInference, LatentModel, Trainer, load_config
from genflows._runtime import distributed as gdist
from genflows.generators import Generator
from genflows.registry import build_model
from genflows.tasks._evaluate import _features
from genflows.tasks.anomaly import anomaly_scores

N, BATCH, EPOCHS, NZ = 16, 16, 3, 3
TOL = 1e-5  # float32 sums taken in a different order (two half-batch means vs one mean)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MLPGenerator(Generator):
    """BatchNorm-free, so a half batch gives exactly half of a full batch's loss terms."""

    def __init__(self):
        super().__init__(NZ, (1, 4, 4), sigma=0.3)
        self.net = torch.nn.Sequential(torch.nn.Linear(NZ, 32), torch.nn.Tanh(), torch.nn.Linear(32, 16), torch.nn.Tanh())

    def forward(self, z):
        return self.net(z).view(-1, 1, 4, 4)


class ZeroStartLangevin(LangevinInference):
    """Noise-free chains from z0 = 0: no randomness, so runs on 1 and 2 processes can agree."""

    def forward(self, prior, generator, x, mask=None, z0=None, **kw):
        return super().forward(prior, generator, x, mask, z0=torch.zeros(x.shape[0], NZ) if z0 is None else z0, **kw)


def _deterministic_model() -> LatentModel:
    torch.manual_seed(0)
    return LatentModel(GaussianPrior(NZ), MLPGenerator(), ZeroStartLangevin(n_steps=5, step_size=0.3, noise=False))


def _fake_inception(x: torch.Tensor):
    """2048 numbers per image, like Inception's pool features, at no cost."""
    return x.flatten(1).double().repeat(1, 2048 // x[0].numel()).numpy()


def _data() -> torch.Tensor:
    return torch.rand(N, 1, 4, 4, generator=torch.Generator().manual_seed(1)) * 2 - 1


def _train_cfg():
    return load_config("abp", overrides=[f"train.batch_size={BATCH}", "train.lr=0.01", "train.seed=3"]).train


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    tdist.init_process_group("gloo")
    try:
        model = _deterministic_model()
        Trainer(model, _train_cfg(), progress=False).fit(_data(), epochs=EPOCHS)
        scores, _ = anomaly_scores(model, _data()[:13], n_steps=4, step_size=0.1, batch_size=4, seed=5)
        features = _features(_fake_inception, _data()[:13])  # FID's features: each rank its share, then gathered

        # lfbm-mcmc has nflows ActNorm (data-dependent init) and BatchNorm: ranks must still agree.
        cfg = load_config("lfbm-mcmc", overrides=["inference.n_steps=2", "train.batch_size=8", "train.seed=2"])
        torch.manual_seed(cfg.train.seed)
        flow_model = build_model(cfg, (1, 8, 8))
        Trainer(flow_model, cfg.train, progress=False).fit(torch.rand(32, 1, 8, 8) * 2 - 1, epochs=1)
        draws = flow_model.prior.sample(4)  # the prior's own sampler, after DDP training
        flat = torch.cat([p.detach().flatten() for p in flow_model.parameters()])
        spread = flat.clone()
        tdist.all_reduce(spread, op=tdist.ReduceOp.MAX)
        low = flat.clone()
        tdist.all_reduce(low, op=tdist.ReduceOp.MIN)
        torch.save({"state": model.state_dict(), "scores": scores, "features": features, "flow_spread": float((spread - low).abs().max()),
                    "prior_draws": draws, "data_space_scores": _data_space_scores()},
                   Path(out) / f"rank{rank}.pt")
    finally:
        tdist.destroy_process_group()


def _data_space_scores() -> dict[str, torch.Tensor]:
    """Every score of a CoopFlow and an EBFlow model (no chain), 13 images in batches of 4."""
    out = {}
    for name, small in (("coopflow", ["coop.flow_depth=1", "coop.flow_hidden=8", "coop.flow_levels=1", "coop.energy_width=4"]),
                        ("ebflow-ssm", []), ("vapo", ["vapo.base=8", "vapo.mults=[1]", "vapo.blocks=1", "vapo.groups=4", "vapo.dropout=0.0"])):
        torch.manual_seed(0)
        m = build_model(load_config(name, overrides=small, extra={"task": "anomaly"}), (1, 4, 4))
        for kind in m.anomaly_kinds(m.mode):
            out[f"{name}/{kind}"] = m.anomaly_scores(_data()[:13], 0, 0.0, batch_size=4, kind=kind)[0]
    return out


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    mp.spawn(_worker, args=(2, _free_port(), str(out)), nprocs=2, join=True)
    return [torch.load(out / f"rank{r}.pt") for r in range(2)]


def test_ddp_matches_one_process_on_the_same_global_batch(two_ranks):
    single = _deterministic_model()
    Trainer(single, _train_cfg(), progress=False).fit(_data(), epochs=EPOCHS)
    untrained = _deterministic_model().state_dict()
    for name, p in single.state_dict().items():
        for r in range(2):
            torch.testing.assert_close(two_ranks[r]["state"][name], p, atol=TOL, rtol=TOL)
        assert not torch.allclose(untrained[name], p), f"{name} did not train, so the comparison proves nothing"


def test_ranks_agree_with_data_dependent_init_and_batchnorm(two_ranks):
    assert two_ranks[0]["flow_spread"] == 0.0


def test_ranks_draw_independent_streams(two_ranks):
    # Same parameters on both ranks (above), so different samples can only come from different noise.
    assert not torch.allclose(two_ranks[0]["prior_draws"], two_ranks[1]["prior_draws"])


def test_gathered_scores_equal_single_process_scores(two_ranks):
    model = _deterministic_model()
    model.load_state_dict(two_ranks[0]["state"])
    single, _ = anomaly_scores(model, _data()[:13], n_steps=4, step_size=0.1, batch_size=4, seed=5)
    for r in range(2):
        assert two_ranks[r]["scores"].shape == (13,)  # 13 = 7 + 6: unequal shards, padded and trimmed
        torch.testing.assert_close(two_ranks[r]["scores"], single, atol=1e-5, rtol=1e-5)


def test_data_space_scores_are_sharded_and_gathered_like_one_process(two_ranks):
    single = _data_space_scores()
    assert set(single) == {"coopflow/energy", "coopflow/flow", "ebflow-ssm/energy", "vapo/log_potential", "vapo/potential"}
    for r in range(2):
        for k, v in single.items():
            torch.testing.assert_close(two_ranks[r]["data_space_scores"][k], v, atol=1e-4, rtol=1e-5)


def test_fid_features_are_shared_out_and_gathered_in_order(two_ranks):
    single = _features(_fake_inception, _data()[:13])
    assert single.shape == (13, 2048)
    for r in range(2):
        torch.testing.assert_close(two_ranks[r]["features"], single)


def test_no_process_group_without_torchrun():
    assert not gdist.launched() or int(os.environ["WORLD_SIZE"]) == 1
    assert not gdist.active() and gdist.rank() == 0 and gdist.world_size() == 1
    assert gdist.shard_bounds(10) == (0, 10)


def test_torchrun_writes_one_set_of_outputs(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(_free_port()),
           "-m", "genflows", "run", "lfbm-mcmc", "--task", "anomaly", "--data", "digits", "--holdout", "4", "--epochs", "1",
           "--threads", "1", "--device", "cpu", "--out", str(out), "--set", "inference.n_steps=3",
           "--set", "anomaly.score_steps=5", "--set", "anomaly.score_checkpoints=[]"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.count("AUPRC") == 1, res.stdout  # rank 0 reports, rank 1 is silent
    names = sorted(p.name for p in out.iterdir())
    events = [n for n in names if n.startswith("events.out.tfevents.")]
    assert len(events) == 1, names  # TensorBoard: rank 0 only
    assert [n for n in names if n not in events] == ["checkpoint-best.pt", "checkpoint.pt", "config.yaml", "curves.png", "metrics.json",
                                                     "pr_curve.png", "samples.png", "scores.csv", "scores.json"]
    import json

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_test"] == len(json.loads((out / "scores.json").read_text())["rows"])  # whole test set, not a shard
