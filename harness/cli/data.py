"""``harness data``: the registered training sources, a full check of a data root's sources and
benchmarks, and ``mix`` to balance a training mixture per source."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from harness.cli.common import check_format, command_group, console, print_json, print_table
from harness.data.mixture import balance, read_sources, with_short_answer_prompt, write_mixture
from harness.data.probes import PROBE_BENCHMARKS
from harness.data.sample import write_sample
from harness.data.sources import DATA_SOURCES, resolve_source
from harness.errors import HarnessError
from harness.eval.benchmarks import BENCHMARKS
from harness.sweep.data_check import DataChecks
from harness.sweep.inputs import resolve_data_root, run_root, split_names
from harness.sweep.plan import benchmark_names

app = command_group("Training data: sources, data-root checks, mixtures and balancing.")


@app.command("sources")
def list_sources(
    format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """The registered training sources: the files each expects under DIR/<name>/, where the
    release comes from, and what is uncertain about it."""
    check_format(format)
    rows = [{"name": s.name, "description": s.description,
             "layout": "generated per run" if s.procedural else s.layout(),
             "release": s.release, "uncertain": s.uncertain,
             "distribution": DATA_SOURCES.provenance(s.name).distribution}
            for s in DATA_SOURCES]
    if format == "json":
        print_json(rows)
        return
    table = Table("source", "layout under DIR/<name>/", "release", title="Data sources")
    for r in rows:
        note = f"\nuncertain: {r['uncertain']}" if r["uncertain"] else ""
        table.add_row(r["name"], r["layout"], r["release"] + note)
    print_table(table)


@app.command("sample")
def sample(
    folder: Annotated[Path, typer.Argument(help="A new (or empty) folder for the data root.")],
) -> None:
    """Write a miniature data root: LLaVA-1.5's two training sources and every Table 5
    benchmark in its release's layout, from real photographs (smoke scale: a handful of items
    each). Then: harness sweep --encoders ID --preset sample --data-root FOLDER."""
    wrote = write_sample(folder)
    console.print(f"wrote a data root at {folder}: sources {', '.join(wrote['sources'])}; "
                  f"benchmarks {', '.join(wrote['benchmarks'])}", highlight=False)
    console.print(f"next: harness sweep --encoders clip-vit-l14-336.openai --preset sample "
                  f"--data-root {folder}", highlight=False)


@app.command("check")
def check(
    names: Annotated[str, typer.Argument(
        help="Comma-separated training sources (or source .toml files), benchmarks and suites "
             "(table5, vision-centric).")],
    data_root: Annotated[Path | None, typer.Option(
        help="The data root (default $HARNESS_DATA).")] = None,
    root: Annotated[Path | None, typer.Option(help="Run root, for its hash cache (default "
                                              "$HARNESS_ROOT, else ./harness-runs).")] = None,
) -> None:
    """Check sources and benchmarks as a sweep's plan does, but open every image."""
    checks = DataChecks(resolve_data_root(data_root, None), run_root(root) / "cache",
                        image_sample=None)
    wanted = split_names(names)
    sources = [n for n in wanted if n in DATA_SOURCES or n.endswith(".toml")]
    for name in sources:
        source = resolve_source(name)
        if source.procedural:
            raise HarnessError(f"data source {name!r} is generated per run; nothing to check")
        facts = checks.source(source)
        console.print(f"{facts.name}: {facts.entries:,} entries, annotations "
                      f"{facts.annotation_hash}, every image opens")
    for name in benchmark_names([n for n in wanted if n not in sources]):
        if name in PROBE_BENCHMARKS:  # generated per run: nothing in the data root
            continue
        facts = checks.benchmark(BENCHMARKS.get(name))
        console.print(f"{facts.name}: {facts.items:,} items, dataset {facts.dataset_hash}, "
                      "every image opens")
    checks.save()


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
    print_table(table)
    console.print(f"wrote {len(entries):,} entries to {out}")
