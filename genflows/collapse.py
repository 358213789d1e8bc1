"""Posterior collapse of a latent model: a generator that explains the data no better than the
mean image, so that the latent variable is barely used.

The trainer records, per epoch, the generator loss's share of the way from a perfect fit (0) to
the mean image's loss (1). MNIST (sigma 0.3): a run whose loss stayed near 880 against the mean
image's 953 sat at 0.94; the 21-epoch reference schedule reached 0.14. Early on an untrained
generator is worse than the mean image (digits: 2.9 after 12 iterations, 0.6 after 250), which is
not collapse, so the verdict waits for ``COLLAPSE_AFTER`` iterations (one MNIST epoch).

    >>> record = {"epoch": 1, "gen_loss": 900.0}
    >>> check_collapse(record, (953.0, -50.0), iteration=505), round(record["gen_loss_vs_mean_image"], 3)
    (True, 0.947)
"""

from __future__ import annotations

__all__ = ["COLLAPSE_SHARE", "COLLAPSE_AFTER", "check_collapse", "collapse_warning"]

COLLAPSE_SHARE = 0.75
COLLAPSE_AFTER = 500


def check_collapse(record: dict, reference: tuple[float, float] | None, iteration: int) -> bool:
    """Add ``gen_loss_vs_mean_image`` to an epoch's ``record`` (given ``reference`` = (mean-image
    loss, perfect-fit loss)); after ``COLLAPSE_AFTER`` iterations a share above
    ``COLLAPSE_SHARE`` marks the epoch ``collapsed``. Returns whether it did."""
    if reference is None or "gen_loss" not in record:
        return False
    mean_loss, perfect = reference
    share = (record["gen_loss"] - perfect) / max(mean_loss - perfect, 1e-12)
    record["gen_loss_vs_mean_image"] = share
    if share > COLLAPSE_SHARE and iteration >= COLLAPSE_AFTER:
        record["collapsed"] = True
        return True
    return False


def collapse_warning(record: dict, reference: tuple[float, float]) -> str:
    """The one-line warning for a collapsed epoch."""
    return (f"warning: posterior collapse after epoch {record['epoch']}: the generator loss {record['gen_loss']:.4g} is "
            f"{record['gen_loss_vs_mean_image']:.0%} of the way to the mean image's {reference[0]:.4g} (z is barely used); "
            f"the reference code trains at train.lr 4e-4 with generator.init=reference")
