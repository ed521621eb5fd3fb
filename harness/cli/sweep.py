"""``harness sweep``: plan encoder x recipe x seed runs, run the new ones, store and show them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from harness.cli.common import check_format, console, print_json, run_root, split_names
from harness.encoder import ENCODERS
from harness.errors import HarnessError
from harness.preset import PRESETS, load_preset_file
from harness.recipe import RECIPES, Recipe, load_recipe_file
from harness.store import Store, resolve_db_url
from harness.sweep.driver import ProgressWatcher, SweepReport, execute_runs
from harness.sweep.plan import Run, plan_sweep
from harness.sweep.record import ResultRecord
from harness.sweep.submit import EXECUTORS


def resolve_encoders(text: str, strict: bool = False) -> list[str]:
    ENCODERS.discover(strict=strict)
    names = split_names(text)
    if names == ["all"]:
        return ENCODERS.names()
    for name in names:
        if name not in ENCODERS:
            valid = ", ".join(["all", *ENCODERS.names()])
            raise HarnessError(f"unknown encoder {name!r}; valid: {valid}")
    if not names:
        raise HarnessError("no encoder given; use --encoders all or a comma-separated list")
    return names


def resolve_recipes(text: str | None, default: tuple[str, ...]) -> list[Recipe]:
    """Recipe names, or paths to a user's own recipe files (anything ending in .toml)."""
    names = split_names(text) if text else list(default)
    return [load_recipe_file(n) if n.endswith(".toml") else RECIPES.get(n) for n in names]


def resolve_seeds(text: str | None, default: tuple[int, ...]) -> list[int]:
    if not text:
        return list(default)
    try:
        return [int(s) for s in split_names(text)]
    except ValueError:
        raise HarnessError(f"bad --seeds {text!r}; expected integers like 0,1,2") from None


def sweep(
    encoders: Annotated[str, typer.Option(help="'all' or comma-separated encoder ids.")],
    preset: Annotated[str, typer.Option(
        help="Scale to run at: a preset name (see `harness recipes list`) or a .toml file.")],
    recipes: Annotated[str | None, typer.Option(
        help="Comma-separated recipe names or recipe .toml files (default: the preset's).")]
    = None,
    seeds: Annotated[str | None, typer.Option(help="Comma-separated seeds "
                                              "(default: the preset's).")] = None,
    executor: Annotated[str, typer.Option(help=f"Where runs execute: {', '.join(EXECUTORS)}.")]
    = "local",
    parallel: Annotated[int, typer.Option(min=1, help="Runs at once (local executor).")] = 1,
    root: Annotated[Path | None, typer.Option(help="Run root (default $HARNESS_ROOT, else "
                                              "./harness-runs).")] = None,
    db: Annotated[str | None, typer.Option(help="Database URL (default $HARNESS_DB_URL, else "
                                           "SQLite under harness-runs/).")] = None,
    dry_run: Annotated[bool, typer.Option(help="Show the plan; run nothing.")] = False,
    rerun_failed: Annotated[bool, typer.Option(help="Run failed runs again.")] = False,
    format: Annotated[str, typer.Option("--format", help="table or json (for scripts).")]
    = "table",
    strict: Annotated[bool, typer.Option(help="Fail on a broken encoder plugin.")] = False,
) -> None:
    """Train and evaluate the MLLM on every encoder x recipe x seed; skip runs already done."""
    check_format(format)
    if executor not in EXECUTORS:
        raise HarnessError(f"unknown executor {executor!r}; valid: {', '.join(EXECUTORS)}")
    chosen = load_preset_file(preset) if preset.endswith(".toml") else PRESETS.get(preset)
    encoder_ids = resolve_encoders(encoders, strict)
    runs = plan_sweep(encoder_ids, resolve_recipes(recipes, chosen.recipes), chosen,
                      resolve_seeds(seeds, chosen.seeds), run_root(root))
    todo = [r for r in runs if r.state == "new" or (rerun_failed and r.state == "failed")]

    if dry_run:
        if format == "json":
            print_json({"executor": executor, "preset": chosen.name,
                        "runs": [r.summary() | {"scheduled": r in todo} for r in runs]})
        else:
            _print_plan(runs, todo, executor)
        return

    store = Store(resolve_db_url(db))
    report = SweepReport()
    if not todo:
        counts = {s: sum(r.state == s for r in runs) for s in ("done", "failed")}
        hint = " (use --rerun-failed to retry failures)" if counts["failed"] else ""
        console.print(f"Nothing new to run: all {len(runs)} planned runs already ran"
                      f" ({counts['done']} done, {counts['failed']} failed){hint}.")
        from harness.store import ingest_paths

        ingest_paths(store, [Path(r.run_dir) for r in runs if r.state != "new"])
    else:
        console.print(f"Planned {len(runs)} runs: {len(todo)} to run, "
                      f"{len(runs) - len(todo)} already ran. Executor: {executor}"
                      + (f" (preset {chosen.name}: random-weight tiny twins, smoke results"
                         " only)" if chosen.tiny_encoders else ""))
        report = _run_with_progress(todo, executor, run_root(root), store, parallel)

    if format == "json":
        print_json({"runs": [r.summary() for r in runs],
                    "leaderboard": store.leaderboard(subset="overall")})
    else:
        _print_leaderboard(store, {r.key for r in runs})
        console.print("Open the dashboard: [bold]harness serve[/] (then http://127.0.0.1:8000/)")
    if report.failed:
        console.print(f"[red]{len(report.failed)} run(s) failed:[/]")
        for record in report.failed:
            console.print(f"  {record.run_key} {record.encoder.id} / {record.recipe}:"
                          f" {record.error}")
        raise typer.Exit(1)


def _run_with_progress(todo: list[Run], executor: str, root: Path, store: Store,
                       parallel: int) -> SweepReport:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[info]}"), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        overall = progress.add_task("[bold]sweep", total=len(todo), info="")
        tasks: dict[str, int] = {}

        def on_status(run: Run, status: dict) -> None:
            loss = f" loss {status['loss']:.3f}" if status.get("loss") is not None else ""
            progress.update(tasks[run.key], completed=status["step"], total=status["total"],
                            info=f"{status['stage']}{loss}")

        with ProgressWatcher(on_status) as watcher:

            def listener(run: Run, event: str, record: ResultRecord | None) -> None:
                if event == "started":
                    tasks[run.key] = progress.add_task(f"  {run.label}", total=None,
                                                       info="starting")
                    watcher.active[run.key] = run
                    return
                watcher.active.pop(run.key, None)
                progress.remove_task(tasks.pop(run.key))
                progress.advance(overall)
                progress.console.print(_outcome_line(run, record))

            report = execute_runs(todo, executor=executor, root=root, store=store,
                                  parallel=parallel, listener=listener)
    console.print(f"Sweep finished in {report.seconds:.0f} s: {len(report.done)} done,"
                  f" {len(report.failed)} failed.")
    return report


def _outcome_line(run: Run, record: ResultRecord | None) -> str:
    if record is None or record.status != "done":
        error = record.error if record else "no record"
        return f"[red]x[/] {run.label} failed: {error}"
    overall = [s for s in record.scores if s.subset == "overall"]
    parts = [f"{s.benchmark} {s.value:.1f}" + (f" (chance {s.chance:.1f})" if s.chance else "")
             for s in overall]
    return f"[green]ok[/] {run.label}: {', '.join(parts)} in {record.wall_seconds:.0f} s"


def _print_plan(runs: list[Run], todo: list[Run], executor: str) -> None:
    table = Table("key", "encoder", "recipe", "seed", "state", "scheduled",
                  title=f"Plan (executor: {executor})")
    for r in runs:
        table.add_row(r.key, r.encoder_id + (" (tiny)" if r.tiny else ""),
                      r.config.recipe.name, str(r.config.seed), r.state,
                      "yes" if r in todo else "no")
    console.print(table)


def _print_leaderboard(store: Store, keys: set[str]) -> None:
    rows = [r for r in store.leaderboard(subset="overall") if r["run_key"] in keys]
    if not rows:
        return
    smoke = [r["smoke"] for r in rows]
    title = "Leaderboard"
    if all(smoke):
        title += " (SMOKE: random-weight twins, not real scores)"
    elif any(smoke):
        title += " (* = smoke: random-weight twin, not a real score)"
    table = Table(title=title)
    table.add_column("encoder", no_wrap=True)
    for name in ("group", "recipe", "benchmark", "score", "chance", "n"):
        table.add_column(name, justify="right" if name in ("score", "chance", "n") else "left")
    for r in sorted(rows, key=lambda r: (r["benchmark"], r["recipe"], -r["value"])):
        chance = f"{r['chance']:.1f}" if r.get("chance") is not None else ""
        mark = "*" if r["smoke"] and not all(smoke) else ""
        table.add_row(r["encoder_id"] + mark, r["group"], r["recipe"], r["benchmark"],
                      f"{r['value']:.1f}", chance, str(r["n"]))
    console.print(table)
