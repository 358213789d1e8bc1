"""Tasks: one module each, using only the model's public interface. Registered by name."""

from __future__ import annotations

from . import anomaly

__all__ = ["TASKS"]

# name -> module with run(cfg, out: RunDir, progress, device) -> metrics dict
TASKS = {
    "anomaly": anomaly,
}
