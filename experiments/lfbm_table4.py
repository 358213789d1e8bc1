"""Latent-flow paper, Table 4 (MNIST anomaly detection, AUPRC): every study behind it, one subcommand each.

    python experiments/lfbm_table4.py SUBCOMMAND [ARGS...]
    python experiments/lfbm_table4.py SUBCOMMAND --help   # its options
    python experiments/lfbm_table4.py list                # this text

A subcommand is a module of ``experiments/table4/`` run as ``__main__`` with ARGS (``which_protocol``
is a bash script); its docstring says what it runs and what it writes. A hyphen may stand for an
underscore (``default-seeds``). Run from the repository root: results go to ``experiments/results/``,
run folders to ``experiments/runs/``.

  paper                at the paper's schedule: every cell of ``genflows table anomaly --budget paper``, scored clean and the reference code's way
  anomaly              the full MNIST anomaly protocol for one held-out digit, N seeds
  fast_schedule_seeds  digit 4: AUPRC of the fast MNIST schedule over seeds 1-3, per scoring-step count
  default_seeds        digit 4: the default MNIST config over training seeds, and the scoring-seed spread of one checkpoint
  model_comparison     all models, digits 1, 4, 5, 7, 9: record a table run's finished cells
  collapse_study       digit 4: does LFBM-MCMC's first MNIST epoch collapse? One epoch per training seed
  changes              digit 4: what each difference from the reference code is worth, one row per change
  default_change       digit 4: one change to the default MNIST config, paired with the default config's training seeds
  reference_protocol   what the reference code's leaky split and train-mode BatchNorm add to AUPRC
  epoch_choice         what choosing the epoch on the test set, under the reference code's scoring, is worth
  which_protocol       digit 4: which anomaly protocol the paper's rows match: all five models under both (meg, mnist-test), one seed
  digit_seeds          one held-out digit: all five models over training seeds, same initialisation and schedule
  val_selected         digit 4: does choosing the epoch on a validation split help?
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _subcommands import HERE, dispatch  # noqa: E402

SUBCOMMANDS = ("paper", "anomaly", "fast_schedule_seeds", "default_seeds", "model_comparison", "collapse_study", "changes",
               "default_change", "reference_protocol", "epoch_choice", "which_protocol", "digit_seeds", "val_selected")
SCRIPTS = {"which_protocol": HERE / "table4" / "which_protocol.sh"}  # subcommands that are bash scripts


def main(argv: list[str]) -> None:
    """Run the subcommand ``argv[0]`` with the rest of ``argv`` as its arguments."""
    dispatch(argv, __doc__, "lfbm_table4.py", "table4", SUBCOMMANDS, SCRIPTS)


if __name__ == "__main__":
    main(sys.argv[1:])
