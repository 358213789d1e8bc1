"""Generic machinery of the typed configuration: dataclasses from nested dicts (unknown keys and
wrong types rejected with a one-line :class:`~genflows.errors.GenflowsError` that suggests the
closest valid key), ``--set`` overrides and YAML files."""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from dataclasses import field
from pathlib import Path
from typing import Any

import yaml

from ..errors import GenflowsError

__all__ = ["check", "family_field", "family_of", "from_dict", "apply_overrides", "merge", "read_yaml"]


def check(cond: bool, msg: str) -> None:
    if not cond:
        raise GenflowsError(msg)


def family_field(family: str, default: Any = None, **kwargs) -> Any:
    """A section or key that only one model family reads (``latent`` or ``coopflow``): a model of
    the other family holds ``None`` there, leaves it out of its config files, and refuses it."""
    if "default_factory" not in kwargs:
        kwargs["default"] = default
    return field(metadata={"family": family}, **kwargs)


def family_of(f: dataclasses.Field) -> str | None:
    return f.metadata.get("family")


def _section_type(tp: Any) -> Any:
    """The dataclass of a section annotated ``Section`` or ``Section | None``."""
    if dataclasses.is_dataclass(tp):
        return tp
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    return args[0] if len(args) == 1 and dataclasses.is_dataclass(args[0]) else None


def _closest(key: str, valid: list[str], prefix: str = "") -> str:
    near = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    return f"; did you mean '{prefix}{near[0]}'?" if near else f" (valid: {', '.join(valid)})"


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp)).replace("NoneType", "null")


_FLOAT_RE = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against the annotation ``tp``; allow int -> float, nothing else implicit."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, key)
            except GenflowsError as e:
                errors.append(e)
        raise errors[0]
    if origin is list:
        (item,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise GenflowsError(f"config key '{key}' must be a list, got {value!r}")
        return [_coerce(v, item, key) for v in value]
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str) and _FLOAT_RE.fullmatch(value.strip()):
            return float(value)  # PyYAML reads '1e-3' (no dot) as a string
    elif tp is str:
        if isinstance(value, str):
            return value
    raise GenflowsError(f"config key '{key}' must be {_type_name(tp)}, got {value!r}")


def from_dict(cls: type, data: dict, prefix: str = "") -> Any:
    """Build dataclass ``cls`` from a nested dict, rejecting unknown keys and wrong types."""
    if not isinstance(data, dict):
        raise GenflowsError(f"config section '{prefix or 'top level'}' must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in data.items():
        full = f"{prefix}{key}"
        if key not in names:
            raise GenflowsError(f"unknown config key '{full}'{_closest(str(key), names, prefix)}")
        tp = hints[key]
        if _section_type(tp) is not None:
            kwargs[key] = from_dict(_section_type(tp), value if value is not None else {}, prefix=f"{full}.")
        else:
            kwargs[key] = _coerce(value, tp, full)
    return cls(**kwargs)


def merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply ``section.key=value`` strings (values parsed as YAML scalars) to a config dict."""
    for item in overrides:
        if "=" not in item:
            raise GenflowsError(f"--set expects key=value, got '{item}'")
        key, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            raise GenflowsError(f"--set {key}: cannot parse value '{raw}'") from None
        node: dict = {}
        cur = node
        parts = key.strip().split(".")
        for p in parts[:-1]:
            cur[p] = {}
            cur = cur[p]
        cur[parts[-1]] = value
        data = merge(data, node)
    return data


def read_yaml(path: str | Path) -> dict:
    p = Path(path)
    if not p.is_file():
        raise GenflowsError(f"config file not found: {p}")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise GenflowsError(f"malformed YAML in {p}{where}") from None
    except UnicodeDecodeError:
        raise GenflowsError(f"config file {p} is not UTF-8 text") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise GenflowsError(f"config file {p} must hold a mapping at top level")
    return data
