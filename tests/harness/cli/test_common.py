"""What every command's output shares: tables that never cut an id or a column name, in a
terminal or not, and help screens that read at 80 columns."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from rich.console import Console
from rich.table import Table
from typer.testing import CliRunner

from harness.cli.app import app
from harness.cli.common import print_table

LONG_ID = "dfn-clip-vit-h14-378.dfn5b+siglip-vit-so400m14-384.webli"


def _table() -> Table:
    table = Table("id", "supervision", "architecture", "weights")
    table.add_row(LONG_ID, "language", "vit", "open_clip:ViT-H-14-378-quickgelu.dfn5b")
    return table


def _printed(console: Console) -> str:
    print_table(_table(), to=console)
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_off_a_terminal_a_table_prints_at_its_full_width() -> None:
    text = _printed(Console(file=io.StringIO(), width=80, force_terminal=False))
    assert "…" not in text
    assert LONG_ID in text and "supervision" in text and "architecture" in text
    assert max(len(line) for line in text.splitlines()) > 80
    # One line per row: a log line can be grepped for the id.
    assert len([line for line in text.splitlines() if LONG_ID in line]) == 1


def test_in_a_narrow_terminal_cells_wrap_but_nothing_is_cut() -> None:
    text = _printed(Console(file=io.StringIO(), width=50, force_terminal=True,
                            color_system=None))
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 50
    # Folded over lines, every character of the id is still there, in order.
    cells = "".join(line.split("│")[1].strip() for line in text.splitlines()
                    if line.startswith("│"))
    assert cells.startswith(LONG_ID)


@pytest.mark.parametrize("command", [["sweep"], ["encoders", "list"], ["compare"]])
def test_help_reads_at_80_columns(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    _readable(result.stdout)
    if command == ["sweep"]:
        # Every option whole, its text beside or under it rather than squeezed into a column.
        assert "--connector-args <str>" in result.stdout
        assert "--rerun-failed / --no-rerun-failed" in result.stdout


def test_a_plugin_commands_help_reads_at_80_columns_too() -> None:
    # `serve` comes from api/ through the entry point, mounted by the console script's start.
    out = subprocess.run([sys.executable, "-c", "from harness.cli.app import main; main()",
                          "serve", "--help"], capture_output=True, text=True, check=True,
                         env={**os.environ, "COLUMNS": "80"}).stdout
    _readable(out)
    assert "--max-body-bytes <int>" in out


def _readable(text: str) -> None:
    assert "…" not in text and "╭" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
