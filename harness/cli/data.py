"""``harness data mix``: balance a training mixture per source and show what it did."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from harness.cli.common import console
from harness.data.mixture import balance, read_sources, with_short_answer_prompt, write_mixture

app = typer.Typer(help="Training data: mixtures and balancing.", no_args_is_help=True)


@app.command("mix")
def mix(
    files: Annotated[list[Path], typer.Argument(help="LLaVA-format JSON or JSONL files.")],
    out: Annotated[Path, typer.Option(help="Where to write the mixture (JSONL).")],
    threshold: Annotated[int | None, typer.Option(
        help="Keep at most this many samples per source (Cambrian-7M: 250k-350k).")] = None,
    source_key: Annotated[str, typer.Option(
        help="Entry field naming its source; entries without it use their file's name.")]
    = "source",
    short_answer_prompt: Annotated[bool, typer.Option(
        help="Add 'Answer the question using a single word or phrase.' to short-answer "
             "entries.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the per-source subsampling.")] = 0,
) -> None:
    """Balance sources with a threshold and print each source's count before and after."""
    entries, counts = balance(read_sources(files, source_key), threshold, seed)
    if short_answer_prompt:
        entries = [with_short_answer_prompt(e) for e in entries]
    write_mixture(entries, out)
    table = Table("source", title="Samples per source")
    table.add_column("before", justify="right")
    table.add_column("after", justify="right")
    for c in counts:
        table.add_row(c.source, f"{c.before:,}", f"{c.after:,}")
    table.add_row("[bold]total", f"{sum(c.before for c in counts):,}",
                  f"{sum(c.after for c in counts):,}")
    console.print(table)
    console.print(f"wrote {len(entries):,} entries to {out}")
