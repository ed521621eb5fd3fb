"""Connector hyperparameters: each connector's named options, read from ``key=value,...`` text
and written into one canonical connector name (``sva(grid=12,layers=3)``).

That name is what a run's config, key, record and leaderboard carry, so runs with different
hyperparameters are different runs and different settings. Options at their default value are
left out of it: a connector with defaults keeps its plain name, and every existing run its key.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.errors import HarnessError

MAX_NAME = 100
"""The store's ``runs.connector`` column holds this many characters."""
_NAME = re.compile(r"^(?P<base>[^()]+?)\s*(?:\((?P<args>[^()]*)\))?\s*$")


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError
    return value


def flag(text: str) -> bool:
    """``1``/``0`` (or ``true``/``false``)."""
    value = {"1": True, "true": True, "0": False, "false": False}.get(text.lower())
    if value is None:
        raise ValueError
    return value


def grid_size(text: str) -> tuple[int, int]:
    """``12`` (square) or ``12x16`` (height x width)."""
    parts = text.lower().split("x")
    if len(parts) > 2:
        raise ValueError
    sides = [positive_int(p) for p in parts]
    return (sides[0], sides[-1])


EXPECTED = {positive_int: "an integer >= 1", non_negative_int: "an integer >= 0",
            flag: "1 or 0",
            grid_size: "a grid side like 12 or HxW like 12x16"}


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, tuple):
        return str(value[0]) if value[0] == value[1] else f"{value[0]}x{value[1]}"
    return str(value)


@dataclass(frozen=True)
class ConnectorOption:
    """One hyperparameter a user may set: its name in ``--connector-args``, the builder's
    keyword it fills, the value the builder uses when it is not given (None: derived from the
    encoders or the LLM, see ``help``) and how its text is read."""

    name: str
    argument: str
    default: Any
    help: str
    parse: Callable[[str], Any] = positive_int

    def read(self, connector: str, text: str) -> Any:
        try:
            return self.parse(text.strip())
        except ValueError:
            expected = EXPECTED.get(self.parse, "a valid value")
            raise HarnessError(f"connector {connector!r}: bad {self.name}={text!r}; expected"
                               f" {expected}") from None


def split_name(name: str) -> tuple[str, dict[str, str]]:
    """``sva(grid=12,layers=3)`` -> ``("sva", {"grid": "12", "layers": "3"})``."""
    match = _NAME.match(name)
    if match is None:
        raise HarnessError(f"bad connector {name!r}; write a name, optionally with options"
                           " like sva(grid=12,layers=3)")
    return match["base"].strip(), parse_args(match["args"] or "", where=name)


def parse_args(text: str | Mapping[str, Any] | None, where: str = "--connector-args"
               ) -> dict[str, str]:
    """``grid=12,layers=3`` (or a mapping, e.g. from a TOML table) as option name -> text."""
    if text is None:
        return {}
    if isinstance(text, Mapping):
        return {str(k).strip(): format_value(tuple(v) if isinstance(v, list) else v)
                for k, v in text.items()}
    found: dict[str, str] = {}
    for item in (i.strip() for i in text.split(",")):
        if not item:
            continue
        key, sep, value = (s.strip() for s in item.partition("="))
        if not sep or not key or not value:
            raise HarnessError(f"bad connector option {item!r} in {where!r}; write key=value"
                               " pairs joined by commas, e.g. grid=12,layers=3")
        if key in found:
            raise HarnessError(f"connector option {key!r} given twice in {where!r}")
        found[key] = value
    return found


def merge_args(name: str, extra: Mapping[str, str]) -> str:
    """``name`` (perhaps already carrying options) with ``extra`` options added; an option
    given both ways with different values is an error."""
    base, given = split_name(name)
    for key, value in extra.items():
        if key in given and given[key] != value:
            raise HarnessError(f"connector option {key!r} is given twice: {key}={given[key]}"
                               f" in {name!r} and {key}={value} in --connector-args")
    merged = {**given, **extra}
    if not merged:
        return base
    return f"{base}({','.join(f'{k}={v}' for k, v in merged.items())})"


def resolve_options(connector: str, options: tuple[ConnectorOption, ...],
                    raw: Mapping[str, str]) -> dict[str, Any]:
    """Option name -> value for the options ``raw`` sets away from their default (in name
    order); an unknown name or a bad value is a one-line error naming the valid ones."""
    by_name = {o.name: o for o in options}
    values: dict[str, Any] = {}
    for key in sorted(raw):
        option = by_name.get(key)
        if option is None:
            valid = ", ".join(sorted(by_name)) or "(none: it takes no options)"
            raise HarnessError(f"connector {connector!r} has no option {key!r}; valid: {valid}")
        value = option.read(connector, raw[key])
        if value != option.default:
            values[key] = value
    return values


def canonical_name(base: str, values: Mapping[str, Any]) -> str:
    """The one spelling of a connector and its options (sorted, defaults left out)."""
    if not values:
        return base
    name = f"{base}({','.join(f'{k}={format_value(values[k])}' for k in sorted(values))})"
    if len(name) > MAX_NAME:
        raise HarnessError(f"connector {name!r} is longer than {MAX_NAME} characters (what"
                           " the store keeps); set fewer options")
    return name


RENAMED = {"sva": ("sva-lite", {}), "sva-llm": ("sva-lite", {"every": "3"})}
"""Connectors whose name a new implementation took (version 2 of ``sva``): a version-1 run of
the old name was built by the module now registered under the new one, with these options
implied (``sva-llm`` re-aggregated every 3rd layer; ``sva-lite`` does not by default)."""


def current_name(name: str, version: int) -> str:
    """The name this installation builds a run's connector by: ``name`` itself, or for a
    version-1 run of a renamed connector, its new name with the same options."""
    base, args = split_name(name)
    if version != 1 or base not in RENAMED:
        return name
    new_base, implied = RENAMED[base]
    merged = {**implied, **args}
    return canonical_name(new_base, dict(sorted(merged.items())))


def describe(options: tuple[ConnectorOption, ...]) -> str:
    """``grid, groups=1, layers=1`` style summary for help texts."""
    return ", ".join(o.name if o.default is None else f"{o.name}={format_value(o.default)}"
                     for o in options) or "none"
