"""``harness benchmarks list`` and ``harness benchmarks check``: the registered benchmarks with
their versions and hashes, and whether a data folder holds one in its official layout."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from harness.cli.common import (
    check_format,
    command_group,
    console,
    err_console,
    print_json,
    print_table,
)
from harness.errors import HarnessError
from harness.eval.benchmarks import BENCHMARKS
from harness.eval.categories import categories
from harness.eval.files import UnreadableImage, open_image
from harness.eval.runner import select

app = command_group("The benchmarks an evaluation can use.")


def benchmark_rows(category: str | None = None, strict: bool = False) -> list[dict]:
    BENCHMARKS.discover(strict=strict)
    if category is not None and category not in categories():
        raise HarnessError(f"unknown category {category!r}; valid: {', '.join(categories())}")
    rows = []
    for b in BENCHMARKS.items():
        if category and b.category != category:
            continue
        provenance = BENCHMARKS.provenance(b.name)
        rows.append({
            "name": b.name, "version": b.version, "category": b.category, "kind": b.kind,
            "metric": b.metric, "scale": b.scale, "split": b.split,
            "prompt_hash": b.prompt_hash, "label_patch": b.label_patch,
            "subsets": sorted(b.slim), "cambrian": [c.name for c in b.table5], "layout": b.layout,
            "description": b.description, "distribution": provenance.distribution,
        })
    return rows


@app.command("list")
def list_benchmarks(
    category: Annotated[str | None, typer.Option(
        help=f"Only this category: {', '.join(categories())}.")] = None,
    format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    strict: Annotated[bool, typer.Option(help="Fail on a broken benchmark plugin.")] = False,
) -> None:
    """List registered benchmarks with their versions, prompt hashes and label patches."""
    check_format(format)
    rows = benchmark_rows(category, strict)
    if format == "json":
        print_json({"benchmarks": rows, "problems": [str(p) for p in BENCHMARKS.problems]})
        return
    table = Table("name", "category", "metric", "prompt", "labels", "column")
    table.columns[0].no_wrap = True
    for r in rows:
        table.add_row(r["name"], r["category"], r["metric"], r["prompt_hash"],
                      r["label_patch"].split("@")[0] or "-", ",".join(r["cambrian"]) or "-")
    print_table(table)


def check_data(name: str, data_dir: Path, *, subset: str | None = None,
               limit: int | None = None, images: bool = True) -> dict:
    """Load a benchmark from ``data_dir`` and open every image: what an evaluation would read.
    A folder in the wrong layout raises; unreadable images are counted and the first named."""
    benchmark = BENCHMARKS.get(name)
    items = select(benchmark.items(data_dir), benchmark, subset=subset, limit=limit)
    unreadable: list[str] = []
    if images:
        for item in items:
            if item.image is None:
                continue
            try:
                open_image(item.image, Path(data_dir))
            except UnreadableImage as exc:
                unreadable.append(str(exc))
    return {"benchmark": name, "version": benchmark.version, "items": len(items),
            "with_image": sum(i.image is not None for i in items),
            "multiple_choice": sum(bool(i.choices) for i in items),
            "dataset_hash": benchmark.dataset_hash(data_dir),
            "prompt_hash": benchmark.prompt_hash, "label_patch": benchmark.label_patch,
            "unreadable": len(unreadable), "first_unreadable": unreadable[0] if unreadable
            else None}


@app.command("check")
def check(
    name: Annotated[str, typer.Argument(help="A benchmark name (see `harness benchmarks list`).")],
    data_dir: Annotated[Path, typer.Option("--data-dir", help="The benchmark's folder.")],
    subset: Annotated[str | None, typer.Option(help="A named slim subset.")] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N items.")] = None,
    images: Annotated[bool, typer.Option(help="Open every image (slower).")] = True,
    format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """Check that DATA_DIR holds NAME in its official layout; exit 1 on unreadable images."""
    check_format(format)
    report = check_data(name, data_dir, subset=subset, limit=limit, images=images)
    if format == "json":
        print_json(report)
    else:
        console.print(f"{name} v{report['version']}: {report['items']} items "
                      f"({report['multiple_choice']} multiple choice, {report['with_image']} "
                      f"with an image), dataset {report['dataset_hash']}, prompt "
                      f"{report['prompt_hash']}"
                      + (f", labels {report['label_patch']}" if report["label_patch"] else ""))
    if report["unreadable"]:
        err_console.print(f"error: {report['unreadable']} unreadable image(s), first: "
                          f"{report['first_unreadable']}")
        raise typer.Exit(1)
