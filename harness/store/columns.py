"""Store columns derived from the result contract (``harness.record``): one SQL column per
declared field, and the conversions between a record's values and a row's.

The tables in ``models`` are built from these, ingest writes through ``row_values`` and the
queries read back through ``plain_values``, so no field is spelled out a second time.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Column, DateTime, Float, Integer, String, Text

from harness.errors import HarnessError
from harness.record import columns_of, stored


def _sql_type(hint: Any, note) -> tuple[Any, bool]:
    """The SQL type of a field's annotation, and whether it admits None."""
    nullable = False
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        nullable = len(args) < len(typing.get_args(hint))
        hint = args[0]
    if typing.get_origin(hint) is typing.Literal:
        hint = type(typing.get_args(hint)[0])
    if note.time:
        return DateTime(), True
    if hint is bool:
        return Boolean(), nullable
    if hint is int:
        # BIGINT on PostgreSQL; SQLite's INTEGER is 64-bit already.
        return (BigInteger().with_variant(Integer, "sqlite") if note.big else Integer()), nullable
    if hint is float:
        return Float(), nullable
    if hint is str:
        return (Text() if note.length is None else String(note.length)), nullable
    if typing.get_origin(hint) is dict or hint is dict:
        return JSON(), nullable
    raise TypeError(f"no SQL type for {hint!r}; declare the field with column=False")


def field_names(cls: type) -> tuple[str, ...]:
    """The names of ``cls``'s store columns, in declaration order."""
    return tuple(f.name for f in columns_of(cls))


def sql_columns(cls: type, *, rename: dict[str, str] | None = None,
                primary_key: str | None = None) -> list[Column]:
    """One column per declared field of ``cls``; ``rename`` maps a field to its column name."""
    rename = rename or {}
    hints = typing.get_type_hints(cls)
    out = []
    for f in columns_of(cls):
        note = stored(f)
        sql_type, nullable = _sql_type(hints[f.name], note)
        if note.nullable is not None:
            nullable = note.nullable
        kwargs: dict[str, Any] = {"nullable": nullable, "doc": note.doc or None}
        # A time's default is the record's empty text, not a column value.
        if f.default is not dataclasses.MISSING and not note.time:
            kwargs["default"] = f.default
        if note.server_default is not None:
            kwargs["server_default"] = note.server_default
        if note.index:
            kwargs["index"] = True
        name = rename.get(f.name, f.name)
        out.append(Column(name, sql_type, primary_key=name == primary_key, **kwargs))
    return out


def row_values(obj: Any, *, rename: dict[str, str] | None = None) -> dict[str, Any]:
    """A record object's column values, keyed by column name (times parsed to naive UTC)."""
    rename = rename or {}
    out = {}
    for f in columns_of(type(obj)):
        value = getattr(obj, f.name)
        if stored(f).time:
            value = utc(value, f.name)
        out[rename.get(f.name, f.name)] = value
    return out


def plain_values(row: Any, cls: type, *, rename: dict[str, str] | None = None
                 ) -> dict[str, Any]:
    """``cls``'s fields read back from a row (ORM object or result row), times as ISO text."""
    rename = rename or {}
    out = {}
    for f in columns_of(cls):
        value = getattr(row, rename.get(f.name, f.name))
        out[f.name] = iso(value) if stored(f).time else value
    return out


def utc(text: str, name: str) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise HarnessError(f"{name}: not an ISO 8601 time: {text!r}") from None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.replace(tzinfo=UTC).isoformat()


def selected(table: Any, names: Iterable[str]) -> list[Any]:
    """The columns ``names`` of an ORM class, for a ``select``."""
    return [getattr(table, name) for name in names]
