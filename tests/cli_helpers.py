"""Running the command line inside a test: exit status and captured output."""

import contextlib
import runpy
import sys
from pathlib import Path

import pytest
import torch

from genflows.cli import main


@contextlib.contextmanager
def _threads_kept():
    """A command's ``--threads`` must not outlive it in the test process."""
    threads = torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def run_cli(argv, capsys):
    """``genflows ARGV`` in-process: (exit status, stdout, stderr)."""
    with _threads_kept(), pytest.raises(SystemExit) as e:
        main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return e.value.code, out, err


def run_script(path, argv, capsys, monkeypatch):
    """``python PATH ARGV`` in-process, as the interpreter would run it (its folder first on
    sys.path, ``__name__ == "__main__"``): (exit status, stderr). Saves an interpreter start
    (about 6 s of imports) per case; the console script's own exit path is tested in a subprocess."""
    monkeypatch.setattr(sys, "argv", [str(path), *map(str, argv)])
    monkeypatch.syspath_prepend(str(Path(path).parent))
    with _threads_kept():
        try:
            runpy.run_path(str(path), run_name="__main__")
            code = 0
        except SystemExit as e:
            code = e.code
    return code, capsys.readouterr().err
