"""Tasks: one module each, using only the model interface (:class:`~genflows.interface.GenerativeModel`)
and never asking which family a model is of. Registered by name.

Each module has ``run(cfg, out: RunDir, progress, device, log) -> metrics dict`` and
``HEADLINE``, the metric names a summary over seeds reports (the first is the main one), and
``VALIDATION_FID``, whether its model may be selected by validation FID.
"""

from __future__ import annotations

from . import anomaly, generation, inpainting, interpolation, reconstruction, recovery, toy

__all__ = ["TASKS", "VALIDATION_FID_TASKS"]

TASKS = {
    "anomaly": anomaly,
    "generation": generation,
    "reconstruction": reconstruction,
    "inpainting": inpainting,
    "recovery": recovery,
    "interpolation": interpolation,
    "toy": toy,
}

# Tasks whose model may be selected by validation FID (eval.val_fid_every).
VALIDATION_FID_TASKS = tuple(name for name, task in TASKS.items() if task.VALIDATION_FID)
