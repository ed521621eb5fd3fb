"""``harness triage``: score encoders with frozen-feature proxies in minutes, show how well each
proxy has predicted the measured MLLM scores so far, and with ``--budget K`` name the K encoders
worth a full sweep (``harness sweep --encoders triage:K`` runs them)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from harness.cli.common import check_format, console, err_console, print_json, print_table
from harness.errors import HarnessError
from harness.store import Store, resolve_db_url
from harness.sweep.inputs import run_root, split_names
from harness.sweep.service import resolve_encoders
from harness.triage import alignment
from harness.triage.correlate import AVERAGE, read_triage
from harness.triage.data import TriageSettings
from harness.triage.recommend import recommend
from harness.triage.service import PROXY_NAMES, Outcome, TriageRequest, resolve_device, triage


def triage_command(
    encoders: Annotated[str | None, typer.Option(
        help="'all' or comma-separated encoder ids to score; leave out to rank what the store"
             " already holds (with --budget).")] = None,
    budget: Annotated[int | None, typer.Option(
        metavar="K", help="Recommend the K encoders worth a full sweep.")] = None,
    tiny: Annotated[bool, typer.Option(
        help="Score the tiny random-weight twins (a smoke test of the proxies, not a "
             "ranking).")] = False,
    proxies: Annotated[str, typer.Option(
        help=f"Comma-separated proxies: {', '.join(PROXY_NAMES)}.")] = ",".join(PROXY_NAMES),
    alignment_reference: Annotated[str, typer.Option(
        help="The encoder whose connector output the alignment proxy compares with.")]
    = alignment.DEFAULT_REFERENCE,
    seed: Annotated[int, typer.Option(help="Seed of the pictures and the probes.")] = 0,
    device: Annotated[str, typer.Option(
        help="Where the encoders run: cpu, cuda, cuda:1 (default: cuda when there is one).")]
    = "auto",
    root: Annotated[Path | None, typer.Option(
        help="Where records go (default $HARNESS_ROOT, else ./harness-runs).")] = None,
    db: Annotated[str | None, typer.Option(help="Database URL (default $HARNESS_DB_URL, "
                                           "else SQLite under harness-runs/).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """Rank encoders by cheap proxies, checked against what sweeps measured."""
    check_format(fmt)
    if encoders is None and budget is None:
        raise HarnessError("give --encoders to score, --budget K to recommend, or both")
    store = Store(resolve_db_url(db))
    outcomes: list[Outcome] = []
    encoder_ids: list[str] | None = None
    if encoders is not None:
        encoder_ids, left_out = resolve_encoders(encoders)
        for name, note in left_out.items():
            err_console.print(f"skipping {name}: {note}", highlight=False, markup=False)
        request = TriageRequest(encoder_ids, run_root(root), tiny=tiny,
                                proxies=split_names(proxies), settings=TriageSettings(seed=seed),
                                reference=alignment_reference, device=resolve_device(device))
        say = err_console if fmt == "json" else console
        outcomes = triage(request, store, on_outcome=lambda o: say.print(
            _outcome_line(o), highlight=False, markup=False))
    known = read_triage(store)
    found = known.correlations
    chosen = (recommend(store, budget, smoke=tiny, among=encoder_ids, known=known)
              if budget is not None else None)
    if fmt == "json":
        print_json({"outcomes": [_outcome_dict(o) for o in outcomes],
                    "correlations": [c.as_dict() for c in found],
                    "recommendation": chosen.as_dict() if chosen else None})
        return
    if outcomes:
        _print_scores(outcomes)
    _print_checks(found, smoke=tiny)
    if chosen:
        console.print(f"Worth a full sweep ({chosen.explanation()}):", highlight=False,
                      markup=False)
        for i, e in enumerate(chosen.encoders, 1):
            console.print(f"  {i}. {e['encoder_id']}  {e['value']:.1f}{_ci(e['ci'])}",
                          highlight=False, markup=False)
        for note in chosen.notes:
            console.print(f"  note: {note}", highlight=False, markup=False)
        console.print(f"Run them: harness sweep --encoders triage:{budget} --preset ...",
                      highlight=False, markup=False)


def _ci(ci) -> str:
    return f" [{ci[0]:.1f}, {ci[1]:.1f}]" if ci else ""


def _outcome_line(o: Outcome) -> str:
    if o.status in ("done", "reused"):
        s = o.overall
        value = f"{s.value:.1f}{_ci((s.ci_low, s.ci_high) if s.ci_low is not None else None)}"
        return f"{o.status:>7} {o.encoder_id} {o.proxy}: {value} in {o.seconds:.1f} s"
    return f"{o.status:>7} {o.encoder_id} {o.proxy}: {o.reason}"


def _outcome_dict(o: Outcome) -> dict:
    s = o.overall
    return {"encoder_id": o.encoder_id, "proxy": o.proxy, "status": o.status,
            "value": s.value if s else None, "ci": [s.ci_low, s.ci_high] if s else None,
            "seconds": round(o.seconds, 2), "reason": o.reason, "run_key": o.run_key}


def _print_scores(outcomes: list[Outcome]) -> None:
    names = list(dict.fromkeys(o.proxy for o in outcomes))
    table = Table(title="Proxy scores (95% interval; failed and skipped proxies say why)")
    table.add_column("encoder")
    for name in names:
        table.add_column(name, justify="right")
    by_encoder: dict[str, dict[str, Outcome]] = {}
    for o in outcomes:
        by_encoder.setdefault(o.encoder_id, {})[o.proxy] = o
    for encoder_id, row in by_encoder.items():
        cells = []
        for name in names:
            o = row.get(name)
            s = o.overall if o else None
            cells.append(f"{s.value:.1f}{_ci((s.ci_low, s.ci_high))}" if s else
                         (o.status if o else "-"))
        table.add_row(encoder_id, *cells)
    print_table(table)


def _print_checks(found, smoke: bool) -> None:
    averages = [c for c in found if c.smoke == smoke and c.target == AVERAGE]
    if not averages:
        console.print("How well each proxy predicted: no measured scores for these encoders "
                      "yet (run a sweep, or import-published cambrian-1 for real encoders).",
                      highlight=False, markup=False)
        return
    table = Table(title="How well each proxy predicted the measured average (rank "
                        "correlation over encoders, 95% bootstrap interval)")
    for name in ("proxy", "measured", "encoders", "Spearman", "Kendall"):
        table.add_column(name, justify="right" if name in ("encoders",) else "left")
    for c in averages:
        if c.spearman is None:
            table.add_row(c.proxy, c.source, str(c.n), f"none: {c.reason}", "")
            continue
        table.add_row(c.proxy, c.source, str(c.n), _rho(c.spearman, c.spearman_ci),
                      _rho(c.kendall, c.kendall_ci))
    print_table(table)


def _rho(value: float, ci) -> str:
    return f"{value:+.2f}" + (f" [{ci[0]:+.2f}, {ci[1]:+.2f}]" if ci else " (no interval)")
