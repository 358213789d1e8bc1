"""User-facing errors: anything the user can fix by changing the command, config or files.

The CLI turns a :class:`GenflowsError` into one line on stderr and exit status 2, never a
traceback; everything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Callable, TypeVar

__all__ = ["GenflowsError", "DivergenceError", "guarded"]

T = TypeVar("T")


class GenflowsError(Exception):
    """A problem with the user's input (command line, config, data, files)."""


class DivergenceError(GenflowsError):
    """A Langevin chain, an energy or a loss became NaN/inf."""


def guarded(fn: Callable[[], T], prog: str) -> T:
    """Run ``fn`` with the CLI's exit contract, shared by ``genflows`` and the ``bench/`` and ``experiments/`` scripts:
    a user error is one line on stderr and exit 2, a divergence exit 3 (its last good checkpoint
    is kept), Ctrl-C exit 130; a failed child command (``subprocess.run(..., check=True)``, e.g. a
    bench script's ``genflows run``) has already said why, so its status is passed on without a
    second report; any other exception is a bug and keeps its traceback."""
    try:
        return fn()
    except DivergenceError as e:  # not bad input: the run itself blew up
        print(f"{prog}: diverged: {e}", file=sys.stderr)
        sys.exit(3)
    except GenflowsError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        sys.exit(2)
    except subprocess.CalledProcessError as e:
        sys.exit(e.returncode if e.returncode > 0 else 1)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        sys.exit(130)
