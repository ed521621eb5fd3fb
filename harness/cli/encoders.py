"""``harness encoders list``: every registered encoder, built-in or from a plugin."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from harness.cli.common import check_format, console, err_console, print_json
from harness.encoder import ENCODERS, GROUPS
from harness.errors import HarnessError

app = typer.Typer(help="The encoders a sweep can use.", no_args_is_help=True)


def encoder_rows(group: str | None = None, strict: bool = False) -> list[dict]:
    ENCODERS.discover(strict=strict)
    if group is not None and group not in GROUPS:
        raise HarnessError(f"unknown group {group!r}; valid: {', '.join(GROUPS)}")
    rows = []
    for spec in ENCODERS.items():
        if group and spec.group != group:
            continue
        provenance = ENCODERS.provenance(spec.id)
        rows.append({
            "id": spec.id, "group": spec.group, "supervision": spec.supervision,
            "architecture": spec.architecture, "resolution": spec.resolution,
            "loader": spec.loader, "source": spec.source, "weights": spec.weights,
            "feature_layer": spec.feature_layer, "tiny_resolution": spec.tiny_resolution,
            "description": spec.description, "distribution": provenance.distribution,
            "distribution_version": provenance.version,
        })
    return rows


@app.command("list")
def list_encoders(
    group: Annotated[str | None, typer.Option(help=f"Only this group: {', '.join(GROUPS)}.")]
    = None,
    format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    strict: Annotated[bool, typer.Option(help="Fail on a broken encoder plugin.")] = False,
) -> None:
    """List registered encoders (built-in and plugins)."""
    check_format(format)
    rows = encoder_rows(group, strict)
    if format == "json":
        print_json({"encoders": rows,
                    "problems": [str(p) for p in ENCODERS.problems]})
        return
    table = Table("id", "group", "supervision", "arch", "res", "weights", "from")
    for r in rows:
        weights = f"{r['loader']}:{r['source']}" + (f".{r['weights']}" if r["weights"] else "")
        table.add_row(r["id"], r["group"], r["supervision"], r["architecture"],
                      str(r["resolution"]), weights, r["distribution"])
    console.print(table)
    for problem in ENCODERS.problems:
        err_console.print(f"[yellow]warning:[/] skipped {problem}")
