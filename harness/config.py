"""Typed configs read from TOML (recipes, presets) and the fully resolved run config whose hash
is a run's identity."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from harness.errors import HarnessError

C = TypeVar("C")


def from_mapping(cls: type[C], data: Mapping[str, Any], where: str) -> C:
    """Build dataclass ``cls`` from plain data, rejecting unknown or missing keys by name.

    Nested dataclasses and tuples of them are built recursively; ``where`` says which file or
    table the data came from so the message points at it.
    """
    if not isinstance(data, Mapping):
        raise HarnessError(f"{where}: expected a table, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise HarnessError(
            f"{where}: unknown key {unknown[0]!r}; valid: {', '.join(sorted(fields))}"
        )
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in data.items():
        values[name] = _coerce(hints[name], value, f"{where}.{name}")
    missing = [
        n for n, f in fields.items()
        if n not in values and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise HarnessError(f"{where}: missing key {missing[0]!r}")
    return cls(**values)


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        for option in options[:-1]:  # the first that takes the value, the last one's error
            try:
                return _coerce(option, value, where)
            except HarnessError:
                continue
        hint = options[-1]
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return from_mapping(hint, value, where)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise HarnessError(f"{where}: expected a list, got {value!r}")
        return tuple(_coerce(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        if not isinstance(value, Mapping):  # dict() would take a list of pairs, or crash
            raise HarnessError(f"{where}: expected a table, got {type(value).__name__}")
        return dict(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool) and not isinstance(value, hint):
        raise HarnessError(f"{where}: expected {hint.__name__}, got {value!r}")
    if typing.get_origin(hint) is typing.Literal and value not in args:
        raise HarnessError(f"{where}: bad value {value!r}; valid: {', '.join(map(str, args))}")
    return value


def read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise HarnessError(f"no such file: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise HarnessError(f"{path}: not valid TOML: {exc}") from None


def to_plain(obj: Any) -> Any:
    """Dataclasses, tuples and mappings as JSON-ready plain data."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_plain(v) for v in obj]
    return obj


KEPT_OUT_AT_DEFAULT = "harness.key.kept-out-at-default"
"""Field metadata for a config field added after runs were keyed: ``identity`` leaves it out
while it holds its default, so the keys of runs planned before it existed stay the same."""


def identity(obj: Any) -> Any:
    """``to_plain``, less every field marked ``KEPT_OUT_AT_DEFAULT`` that holds its default:
    what a run key hashes."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if f.metadata.get(KEPT_OUT_AT_DEFAULT):
                default = (f.default_factory() if f.default_factory is not dataclasses.MISSING
                           else f.default)
                if value == default:
                    continue
            out[f.name] = identity(value)
        return out
    if isinstance(obj, Mapping):
        return {str(k): identity(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [identity(v) for v in obj]
    return obj


def stable_hash(data: Any, length: int = 12) -> str:
    """Hash of canonical JSON of ``identity(data)``: equal configs give equal keys on every
    machine, and a field added later at its default leaves every key as it was."""
    blob = json.dumps(identity(data), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:length]
