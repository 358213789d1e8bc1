"""Running the command line inside a test: exit status and captured output."""

import pytest

from genflows.cli import main


def run_cli(argv, capsys):
    """``genflows ARGV`` in-process: (exit status, stdout, stderr)."""
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return e.value.code, out, err
