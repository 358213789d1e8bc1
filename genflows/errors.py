"""User-facing errors: anything the user can fix by changing the command, config or files.

The CLI turns a :class:`GenflowsError` into one line on stderr and exit status 2, never a
traceback; everything else is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = ["GenflowsError", "DivergenceError"]


class GenflowsError(Exception):
    """A problem with the user's input (command line, config, data, files)."""


class DivergenceError(GenflowsError):
    """A Langevin chain, an energy or a loss became NaN/inf."""
