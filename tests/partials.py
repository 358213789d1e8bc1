"""Partial checkpoints under a fake clock: every ``time.perf_counter`` call is one "second"
after the last, so ``train.save_every_seconds=1`` saves after every batch, deterministically."""

import io

import torch


def clocked_partials(monkeypatch) -> list[bytes]:
    """Every perf_counter call one "second" after the last; returns the partial checkpoints
    written, as bytes, in order."""
    import itertools

    import genflows.trainer as trainer_mod

    clock = itertools.count()
    monkeypatch.setattr(trainer_mod.time, "perf_counter", lambda: float(next(clock)))
    written, real = [], trainer_mod.save_checkpoint

    def keep(path, state, *copies):
        real(path, state, *copies)
        if "within_epoch" in state:
            written.append(path.read_bytes())

    monkeypatch.setattr(trainer_mod, "save_checkpoint", keep)
    return written


def loaded(data: bytes) -> dict:
    """A checkpoint kept as bytes, loaded as a resume would."""
    return torch.load(io.BytesIO(data), weights_only=True)
