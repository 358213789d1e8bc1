"""The one place genflows touches nflows: normalizing-flow transforms with nflows' contract
``forward(z) -> (u, logabsdet)`` (data to base noise) and ``inverse(u) -> (z, logabsdet)``.
Replacing nflows means replacing this package."""

from __future__ import annotations

from .reference import reference_transform
from .transforms import TRANSFORMS, CouplingMLP, build_transform, iaf_steps, image_transform, quiet_nflows

__all__ = ["TRANSFORMS", "CouplingMLP", "build_transform", "image_transform", "iaf_steps", "quiet_nflows", "reference_transform"]
