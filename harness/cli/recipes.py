"""``harness recipes list``: the named training recipes and presets."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from harness.cli.common import check_format, console, print_json
from harness.config import to_plain
from harness.preset import PRESETS
from harness.recipe import RECIPES

app = typer.Typer(help="Training recipes and presets.", no_args_is_help=True)


@app.command("list")
def list_recipes(
    format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """List recipes and the presets that scale them."""
    check_format(format)
    if format == "json":
        print_json({"recipes": [to_plain(r) for r in RECIPES.items()],
                    "presets": [to_plain(p) for p in PRESETS.items()]})
        return
    table = Table("recipe", "encoder", "stages", "description")
    for r in RECIPES.items():
        table.add_row(r.name, r.encoder, " -> ".join(s.name for s in r.stages), r.description)
    console.print(table)
    presets = Table("preset", "description")
    for p in PRESETS.items():
        presets.add_row(p.name, p.description)
    console.print(presets)
