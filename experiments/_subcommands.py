"""The dispatch shared by the experiment entry points that gather one paper table's studies
(``lfbm_table4.py``, ``coopflow_table6.py``): ``ENTRY SUBCOMMAND [ARGS...]`` runs the module
``PACKAGE.SUBCOMMAND`` as ``__main__`` (or a bash script) with ARGS."""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent  # experiments/, the folder the study packages are imported from


def dispatch(argv: list[str], doc: str, prog: str, package: str, subcommands: tuple[str, ...], scripts: dict[str, Path] | None = None) -> None:
    """Run subcommand ``argv[0]`` (a hyphen may stand for an underscore) with ``argv[1:]``;
    ``list``/``--help`` prints ``doc``; anything else is a one-line error, exit 2."""
    if argv and argv[0] in ("list", "-h", "--help"):
        print(doc)
        return
    sub = argv[0].replace("-", "_") if argv else ""
    if sub not in subcommands:
        what = f"unknown subcommand '{argv[0]}'" if argv else "give a subcommand"
        print(f"{prog}: {what}; choose from: {', '.join(subcommands)} ('list' says what each does)", file=sys.stderr)
        sys.exit(2)
    rest = argv[1:]
    if scripts and sub in scripts:
        os.execvp("bash", ["bash", str(scripts[sub]), *rest])
    sys.path.insert(0, str(HERE))
    sys.argv = [f"{sys.argv[0]} {sub}", *rest]  # argparse's usage line: "ENTRY SUBCOMMAND"
    sys.modules.pop(f"{package}.{sub}", None)  # imported before (a test): run it afresh as __main__
    runpy.run_module(f"{package}.{sub}", run_name="__main__")
