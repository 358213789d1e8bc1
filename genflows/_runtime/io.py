"""Atomic output: every file is written to a temporary name in its folder and renamed, so a
crash never leaves a truncated file under the final name."""

from __future__ import annotations

import contextlib
import io as _io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

import torch

from ..errors import GenflowsError

_UMASK = os.umask(0)
os.umask(_UMASK)

__all__ = ["atomic_path", "write_bytes", "write_text", "write_json", "save_checkpoint", "load_checkpoint", "check_writable", "shown_path"]


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual permissions
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def write_text(path: str | Path, text: str) -> None:
    write_bytes(path, text.encode())


def _jsonable(o: Any) -> Any:
    if isinstance(o, torch.Tensor):
        return o.tolist()
    if hasattr(o, "tolist"):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o)}")


def write_json(path: str | Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, default=_jsonable) + "\n")


def save_checkpoint(path: str | Path, state: dict, *copies: str | Path) -> None:
    """``state`` to each of ``copies`` and then to ``path``, serialised once (each file atomic).
    ``path`` comes last: a resume reads it, so a kill before it redoes the epoch and rewrites the
    copies, where the other order could leave a checkpoint naming a best epoch never copied."""
    buf = _io.BytesIO()
    torch.save(state, buf)
    data = buf.getvalue()
    for p in (*copies, path):
        write_bytes(p, data)


def epoch_copy(path: str | Path, epoch: int) -> Path:
    """The per-epoch copy of a checkpoint that ``train.keep_checkpoints`` keeps: ``checkpoint-epoch3.pt``."""
    path = Path(path)
    return path.with_name(f"{path.stem}-epoch{epoch}{path.suffix}")


def load_checkpoint(path: str | Path) -> dict:
    """Load with ``weights_only=True`` (no pickle code execution); bad files are user errors."""
    path = Path(path)
    if not path.is_file():
        raise GenflowsError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        first = (str(e).splitlines() or [type(e).__name__])[0]
        raise GenflowsError(f"cannot load checkpoint {path}: not a genflows checkpoint or truncated ({first[:120]})") from None
    if not isinstance(state, dict) or "model" not in state:
        raise GenflowsError(f"cannot load checkpoint {path}: not a genflows checkpoint")
    return state


def check_writable(folder: str | Path) -> None:
    """Fail early (before any work) if ``folder`` could not be created or written."""
    p = Path(folder).absolute()
    while not p.exists():
        p = p.parent
    if not p.is_dir():
        raise GenflowsError(f"output path {folder} is blocked by a file: {p}")
    if not os.access(p, os.W_OK | os.X_OK):
        raise GenflowsError(f"output folder not writable: {p}")


def shown_path(path: str | Path, root: Path) -> str:
    """``path`` as a record names it: relative to ``root`` (the repository) where it lies inside,
    so a committed record holds no one machine's absolute paths; elsewhere as given."""
    path, root = Path(path).resolve(), root.resolve()
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
