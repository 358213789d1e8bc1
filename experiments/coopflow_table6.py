"""CoopFlow paper, Tables 6 and 7 (MNIST at CPU scale): the ablation and the studies around it, one subcommand each.

    python experiments/coopflow_table6.py SUBCOMMAND [ARGS...]
    python experiments/coopflow_table6.py SUBCOMMAND --help   # its options
    python experiments/coopflow_table6.py list                # this text

A subcommand is a module of ``experiments/table6/`` run as ``__main__`` with ARGS; its docstring
says what it runs and what it writes. A hyphen may stand for an underscore (``joint-phase-probe``).
Run from the repository root: results go to ``experiments/results/``, run folders to
``experiments/runs/``. Why a Table 7 reconstruction stalls is ``coopflow_table7_reconstruction_diagnosis.py``.

  ablation             Tables 6 and 7: flow alone vs short-run EBM vs CoopFlow(Pre) on MNIST / Fashion-MNIST, FID and x̂ reconstruction
  seeds                Table 6 over training seeds: several ``ablation`` results side by side
  joint_phase_probe    Table 6: a fresh EBM on a pretrained flow, FID along the warm-up and the joint phase
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _subcommands import dispatch  # noqa: E402

SUBCOMMANDS = ("ablation", "seeds", "joint_phase_probe")
SCRIPTS: dict = {}


def main(argv: list[str]) -> None:
    """Run the subcommand ``argv[0]`` with the rest of ``argv`` as its arguments."""
    dispatch(argv, __doc__, "coopflow_table6.py", "table6", SUBCOMMANDS, SCRIPTS)


if __name__ == "__main__":
    main(sys.argv[1:])
