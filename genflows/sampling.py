"""Seeded samples of any model in batches, in eval mode: what the tasks score and what a watched
run draws as its sample grids."""

from __future__ import annotations

import torch

from ._runtime.rng import seeded

__all__ = ["sample_batched"]


def sample_batched(model, n: int, seed: int = 0, batch_size: int = 500, sampler=None) -> torch.Tensor:
    """n samples of the model (latent: g(z), z ~ p_alpha; CoopFlow: flow + Langevin flow), in
    eval mode, seeded; ``sampler`` (one of ``model.component_samplers()``) draws a part alone."""
    was_training = model.training
    model.eval()
    out = []
    with seeded(seed, next(model.parameters()).device):
        for i in range(0, n, batch_size):
            out.append((sampler or model.sample)(min(batch_size, n - i)).detach().cpu())
    model.train(was_training)
    return torch.cat(out)
