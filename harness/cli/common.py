"""Helpers shared by the commands: name lists, output formats, tables, the run root."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from harness.errors import HarnessError

FORMATS = ("table", "json")

UNBOUNDED_WIDTH = 100_000

# Soft wrap: a line of text is left whole for the terminal (or the log reader) to wrap, not
# broken at 80 columns mid-word when the output is a file. Tables set their own width.
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


def command_group(help: str, **options: Any) -> typer.Typer:
    """A Typer app with the harness's settings. Help is click's plain layout: typer's rich
    panels give each option's text a narrow column at 80 columns (negated flags and types
    take the rest), while the plain one wraps under a 30-column option column, and reads the
    same in a log as in a terminal."""
    return typer.Typer(help=help, rich_markup_mode=None, pretty_exceptions_enable=False,
                       add_completion=False, no_args_is_help=True, **options)


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise HarnessError(f"unknown format {fmt!r}; valid: {', '.join(FORMATS)}")
    return fmt


def print_table(table: Table, to: Console = console) -> None:
    """Print a table with every id and column name whole. Cells that do not fit wrap (fold)
    instead of ending in an ellipsis; where the output is not a terminal (a log, CI, a pipe)
    the table prints at its natural width, however wide, since nothing wraps it there."""
    for column in table.columns:
        if column.overflow == "ellipsis":  # rich's default: cuts ids and headers to "clip…"
            column.overflow = "fold"
    if to.is_terminal:
        to.print(table)
        return
    # Measured against a width nothing reaches: the console's own (80 off a terminal) caps it.
    natural = Measurement.get(to, to.options.update_width(UNBOUNDED_WIDTH), table).maximum
    kept = to.width
    to.width = max(kept, natural)  # print() never goes wider than the console's width
    try:
        to.print(table)
    finally:
        to.width = kept


def print_json(data: Any) -> None:
    # Plain print, not rich: scripts parse this, so no wrapping or colour codes.
    print(json.dumps(data, indent=2, default=str))
