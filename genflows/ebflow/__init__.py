"""EBFlow (Chao et al., NeurIPS 2023): a normalizing flow read as an energy-based model and
trained by score matching, so no linear layer's determinant is computed in training."""

from __future__ import annotations

from .model import EBFlow
from .objectives import OBJECTIVES

__all__ = ["EBFlow", "OBJECTIVES"]
