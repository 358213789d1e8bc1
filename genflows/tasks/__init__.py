"""Tasks: one module each, using only the model interface (:class:`~genflows.interface.GenerativeModel`)
and never asking which family a model is of. Registered by name.

Each module has ``run(cfg, out: RunDir, progress, device, log) -> metrics dict``;
``HEADLINE``, the metric names a summary over seeds reports (the first is the main one);
``NEEDS``, what a model must implement to run it (:meth:`~genflows.interface.GenerativeModel.capabilities`);
and ``VALIDATION_FID``, whether its model may be selected by validation FID.

    >>> tasks_of("flow")
    ('anomaly', 'generation', 'toy', 'nll')
"""

from __future__ import annotations

from . import anomaly, generation, inpainting, interpolation, nll, reconstruction, recovery, toy

__all__ = ["TASKS", "VALIDATION_FID_TASKS", "tasks_of"]

TASKS = {
    "anomaly": anomaly,
    "generation": generation,
    "reconstruction": reconstruction,
    "inpainting": inpainting,
    "recovery": recovery,
    "interpolation": interpolation,
    "toy": toy,
    "nll": nll,
}

# Tasks whose model may be selected by validation FID (eval.val_fid_every).
VALIDATION_FID_TASKS = tuple(name for name, task in TASKS.items() if task.VALIDATION_FID)


def tasks_of(model: str, mode: str | None = None) -> tuple[str, ...]:
    """The tasks registered model ``model`` runs: those whose ``NEEDS`` its class implements in
    ``mode`` (its family's variant; None: the registry's)."""
    from ..registry import FAMILIES, MODELS

    spec = MODELS[model]
    can = FAMILIES[spec.family].model_class.capabilities(mode or spec.mode)
    return tuple(name for name, task in TASKS.items() if set(task.NEEDS) <= can)
