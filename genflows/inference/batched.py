"""Posterior inference over a whole image set for evaluation: z* for every image in batches, in
eval mode (so results do not depend on the batch size), from one seeded N(0, I) stream, sharded
over the processes of a torchrun job. The latent family's :meth:`reconstruct_batched` etc. use it.
"""

from __future__ import annotations

import torch

from .._runtime import distributed as dist

__all__ = ["infer_batched", "describe_inference", "decode"]


def describe_inference(model, masked: bool, steps: int, refine_steps: int) -> str:
    """How z* was obtained, for metrics files (VAE models fall back to Langevin on masked data)."""
    if model.inference.amortized and not masked:
        return "encoder mean" + (f" + {refine_steps} Langevin refinement steps" if refine_steps else "")
    what = "Langevin on the learned prior and generator (encoder cannot read masked images)" if model.inference.amortized else "Langevin"
    return f"{what}, {steps} noise-free steps"


def infer_batched(
    model,
    x: torch.Tensor,
    mask: torch.Tensor | None = None,
    steps: int = 200,
    step_size: float = 0.1,
    refine_steps: int = 0,
    batch_size: int = 500,
    seed: int = 0,
    noise: bool = False,
) -> torch.Tensor:
    """z* for every image (eval mode, so results do not depend on the batch), started from one
    seeded N(0, I) stream. Amortised inference uses the encoder mean, then ``refine_steps``
    Langevin steps from it; with a mask it infers by Langevin (see VAEInference)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    g = torch.Generator().manual_seed(seed)
    n = x.shape[0]
    z0_all = torch.randn(n, model.nz, generator=g)
    a, b = dist.shard_bounds(n)  # under torchrun: this rank's shard, gathered in order below
    x, z0_all = x[a:b], z0_all[a:b]
    mask = None if mask is None else mask[a:b]
    out = []
    for i in range(0, x.shape[0], batch_size):
        xb = x[i : i + batch_size].to(device)
        mb = None if mask is None else mask[i : i + batch_size].to(device, xb.dtype)
        z0 = z0_all[i : i + batch_size].to(device)
        if model.inference.amortized and mb is None:
            z = model.infer(xb, noise=False)
            if refine_steps:
                z = model.inference.langevin(model.prior, model.generator, xb, z0=z, n_steps=refine_steps, step_size=step_size, noise=False)
        else:
            z = model.infer(xb, mb, z0=z0, n_steps=steps, step_size=step_size, noise=noise)
        out.append(z.detach().cpu())
    model.train(was_training)
    return dist.gather_rows(out, n, (model.nz,))


@torch.no_grad()
def decode(model, z: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = torch.cat([model.generator(z[i : i + batch_size].to(device)).cpu() for i in range(0, z.shape[0], batch_size)])
    model.train(was_training)
    return out
