"""``harness recipes list``: the named training recipes and presets."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from harness.cli.common import check_format, command_group, print_json, print_table
from harness.config import to_plain
from harness.preset import PRESETS
from harness.recipe import RECIPES

app = command_group("Training recipes and presets.")


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
    print_table(table)
    presets = Table("preset", "description")
    for p in PRESETS.items():
        presets.add_row(p.name, p.description)
    print_table(presets)
