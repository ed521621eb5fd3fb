"""``harness compare A B``: is A better than B? Per benchmark and category, the difference,
its paired 95% interval over seeds and questions, and "within noise" where it holds 0;
``--plan D`` adds the seeds per side a gap of D points needs. ``harness reliance A``: per
benchmark scored with and without the image, both scores and their difference, each with its
95% interval."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from harness.cli.common import check_format, console, print_json, print_table
from harness.store import Store, resolve_db_url
from harness.store.compare import reliance_report, report, resolve


def compare_command(
    a: Annotated[str, typer.Argument(help="A run key, or a setting: ENCODER[,recipe=...,"
                                          "llm=...,connector=...,preset=...].")],
    b: Annotated[str, typer.Argument(help="The other side, named the same way.")],
    plan: Annotated[float | None, typer.Option(
        metavar="D", help="Also give the seeds per side needed to detect a gap of D points "
                          "(alpha 0.05, power 0.8).")] = None,
    db: Annotated[str | None, typer.Option(help="Database URL (default $HARNESS_DB_URL, "
                                           "else SQLite under harness-runs/).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """Compare two settings (seeds pooled) or runs on the same questions."""
    check_format(fmt)
    store = Store(resolve_db_url(db))
    side_a, side_b = resolve(store, a), resolve(store, b)
    result = report(side_a, side_b, plan)
    if fmt == "json":
        print_json(result)
        return
    console.print(f"A: {side_a.label}\nB: {side_b.label}", highlight=False, markup=False)
    print_table(_differences(result["differences"]))
    if plan is not None:
        print_table(_plans(result["plans"], plan))


def _differences(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="A - B (95% interval over seeds and questions)")
    for name in ("column", "A", "B", "A - B", "95% interval", "verdict"):
        table.add_column(name, justify="left" if name in ("column", "verdict") else "right")
    for d in rows:
        if d["low"] is None:
            interval, verdict = "—", "no draws kept"
        else:
            interval = f"{d['low']:+.1f} .. {d['high']:+.1f}"
            verdict = ("within noise" if d["within_noise"]
                       else "A better" if d["difference"] > 0 else "B better")
            if not d["paired"]:
                verdict += " (unpaired: other questions)"
        table.add_row(d["column"], f"{d['a']:.1f}", f"{d['b']:.1f}", f"{d['difference']:+.1f}",
                      interval, verdict)
    return table


def _plans(rows: list[dict[str, Any]], gap: float) -> Table:
    table = Table(title=f"Seeds per side to detect a gap of {gap:g} points "
                        "(alpha 0.05, power 0.8)")
    for name in ("column", "seeds", "questions sd", "seed sd A", "seed sd B", "note"):
        table.add_column(name, justify="left" if name in ("column", "note") else "right")
    for p in rows:
        table.add_row(p["column"], "—" if p["seeds"] is None else str(p["seeds"]),
                      f"{p['unit_sd']:.2f}", _sd(p["seed_sd_a"]), _sd(p["seed_sd_b"]),
                      p["note"])
    return table


def _sd(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def reliance_command(
    setting: Annotated[str, typer.Argument(help="A run key, or a setting: ENCODER[,recipe=...,"
                                                "llm=...,connector=...,preset=...].")],
    db: Annotated[str | None, typer.Option(help="Database URL (default $HARNESS_DB_URL, "
                                           "else SQLite under harness-runs/).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """How much each benchmark needs the image: with it, blind, and the difference."""
    check_format(fmt)
    result = reliance_report(Store(resolve_db_url(db)), setting)
    if fmt == "json":
        print_json(result)
        return
    console.print(result["label"], highlight=False, markup=False)
    table = Table(title="With the image, without it (blind), and the difference (95% interval"
                        " over seeds and questions)")
    for name in ("benchmark", "with image", "blind", "vision reliance", "seeds"):
        table.add_column(name, justify="left" if name == "benchmark" else "right")
    for r in result["benchmarks"]:
        table.add_row(r["benchmark"], _with(r["with_image"], r["with_image_interval"]),
                      _with(r["blind"], r["blind_interval"]),
                      _with(r["reliance"], r["reliance_interval"], signed=True),
                      str(r["seeds"]))
    print_table(table)


def _with(value: float, interval: list[float] | tuple[float, float] | None,
          signed: bool = False) -> str:
    text = f"{value:+.1f}" if signed else f"{value:.1f}"
    if interval is None:
        return f"{text} (no draws kept)"
    low, high = interval
    return f"{text} [{low:+.1f}, {high:+.1f}]" if signed else f"{text} [{low:.1f}, {high:.1f}]"
