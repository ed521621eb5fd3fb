"""``harness sweep``: plan encoder x recipe x seed runs, run the new ones, store and show them."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from harness.cli.common import (
    check_format,
    console,
    err_console,
    print_json,
    print_table,
)
from harness.cli.sweep_progress import benchmarks_with_several_metrics, run_with_progress
from harness.combination import is_combination, spelled_out
from harness.model.connector_options import describe
from harness.model.connectors import CONNECTORS
from harness.store import Store, resolve_db_url
from harness.sweep.cluster import parse_sbatch_options
from harness.sweep.driver import SweepReport
from harness.sweep.inputs import DATA_ENV
from harness.sweep.plan import run_state
from harness.sweep.service import (
    SweepPlan,
    SweepRequest,
    in_llm,
    prepare,
    resolve_preset,
    run_plan,
    total_cost,
)
from harness.sweep.submit import EXECUTORS
from harness.triage.recommend import parse_selector, recommend


def sweep(
    encoders: Annotated[str, typer.Option(
        help="'all' or comma-separated encoder ids; join ids with '+' for one run on several"
             " encoders (e.g. a+b,c: a run on a and b together, and one on c); triage:K for"
             " the K encoders `harness triage --budget K` recommends.")],
    preset: Annotated[str, typer.Option(
        help="Scale to run at: a preset name (see `harness recipes list`) or a .toml file.")],
    recipes: Annotated[str | None, typer.Option(
        help="Comma-separated recipe names or recipe .toml files (default: the preset's).")]
    = None,
    seeds: Annotated[str | None, typer.Option(help="Comma-separated seeds "
                                              "(default: the preset's).")] = None,
    connector: Annotated[str | None, typer.Option(
        help=f"Connector: {', '.join(CONNECTORS.names())} (default: mlp2x_gelu for one"
             " encoder, sva for a '+' combination).")] = None,
    connector_args: Annotated[str | None, typer.Option(
        help="Connector hyperparameters as key=value pairs joined by commas, e.g."
             " grid=12,groups=2,layers=3; they join the run key (defaults keep it). Options: "
             + "; ".join(f"{c.name}: {describe(c.options)}" for c in CONNECTORS)
             + ".")] = None,
    executor: Annotated[str | None, typer.Option(
        help=f"Where runs execute: {', '.join(EXECUTORS)} (default: the cluster profile's,"
             " else local).")] = None,
    cluster: Annotated[str | None, typer.Option(
        help="SLURM: cluster profile, a name (./clusters/, ~/.config/harness/clusters/,"
             " built-in) or a .toml file.")] = None,
    partition: Annotated[str | None, typer.Option(help="SLURM: partition.")] = None,
    account: Annotated[str | None, typer.Option(help="SLURM: account.")] = None,
    qos: Annotated[str | None, typer.Option(help="SLURM: quality of service.")] = None,
    constraint: Annotated[str | None, typer.Option(
        help="SLURM: node features, e.g. 'a100|h100'.")] = None,
    time: Annotated[int | None, typer.Option(
        "--time", help="SLURM: time limit per job in minutes (longer runs are checkpointed"
                       " and requeued).")] = None,
    nodes: Annotated[int | None, typer.Option(help="SLURM: nodes per job.")] = None,
    tasks_per_node: Annotated[int | None, typer.Option(
        help="SLURM: processes per node, one per GPU.")] = None,
    gpus_per_task: Annotated[int | None, typer.Option(help="SLURM: GPUs per task.")] = None,
    cpus_per_task: Annotated[int | None, typer.Option(help="SLURM: CPUs per task.")] = None,
    mem: Annotated[float | None, typer.Option(help="SLURM: memory per node in GB.")] = None,
    sbatch: Annotated[list[str] | None, typer.Option(
        help="SLURM: any other sbatch option as KEY=VALUE (repeatable), e.g."
             " exclude=node07.")] = None,
    accelerate_config: Annotated[Path | None, typer.Option(
        help="An accelerate config file (`accelerate config` writes one) every job builds its"
             " Accelerator under, e.g. DDP settings (default: the cluster profile's).")]
    = None,
    parallel: Annotated[int | None, typer.Option(
        min=1, help="Jobs at once: local processes (default 1), or the SLURM array's"
                    " parallelism (default: the profile's).")] = None,
    runs_per_job: Annotated[int | None, typer.Option(
        min=1, help="Runs one job carries (default: local spreads the runs over --parallel"
                    " jobs, so the imports are paid once per job; slurm 1).")] = None,
    wait: Annotated[bool, typer.Option(
        help="Watch the jobs to the end (--no-wait: submit and return; slurm only).")] = True,
    root: Annotated[Path | None, typer.Option(help="Run root (default $HARNESS_ROOT, else "
                                              "./harness-runs).")] = None,
    data_root: Annotated[Path | None, typer.Option(
        help="Where training sources and benchmarks lie, each in DIR/<name>/ (default "
             f"${DATA_ENV}, else the cluster profile's data_root).")] = None,
    db: Annotated[str | None, typer.Option(help="Database URL (default $HARNESS_DB_URL, else "
                                           "SQLite under harness-runs/).")] = None,
    dry_run: Annotated[bool, typer.Option(help="Show the plan; run nothing.")] = False,
    rerun_failed: Annotated[bool, typer.Option(help="Run failed runs again.")] = False,
    format: Annotated[str, typer.Option("--format", help="table or json (for scripts).")]
    = "table",
    strict: Annotated[bool, typer.Option(help="Fail on a broken encoder plugin.")] = False,
) -> None:
    """Train and evaluate the MLLM on every encoder x recipe x seed; skip runs already done
    and watch (never resubmit) runs still in flight from an earlier submission."""
    check_format(format)
    budget = parse_selector(encoders)
    if budget is not None:
        chosen = recommend(Store(resolve_db_url(db)), budget,
                           smoke=resolve_preset(preset).tiny_encoders)
        err_console.print(f"{encoders}: {', '.join(chosen.encoder_ids)}, "
                          f"{chosen.explanation()}", highlight=False, markup=False)
        encoders = ",".join(chosen.encoder_ids)
    slurm_flags = {"partition": partition, "account": account, "qos": qos,
                   "constraint": constraint, "time_min": time, "nodes": nodes,
                   "tasks_per_node": tasks_per_node, "gpus_per_task": gpus_per_task,
                   "cpus_per_task": cpus_per_task, "mem_gb": mem,
                   "sbatch": parse_sbatch_options(sbatch) if sbatch else None}
    plan = prepare(SweepRequest(
        encoders=encoders, preset=preset, recipes=recipes, seeds=seeds, connector=connector,
        connector_args=connector_args, executor=executor, cluster=cluster,
        slurm_flags=slurm_flags, accelerate_config=accelerate_config, parallel=parallel,
        runs_per_job=runs_per_job, wait=wait, root=root, data_root=data_root,
        dry_run=dry_run, rerun_failed=rerun_failed, strict=strict))
    for name, note in plan.left_out.items():
        err_console.print(f"[yellow]skipping[/] {escape(name)}: {escape(note)}")
    if dry_run:
        if format == "json":
            print_json(plan.as_json())
        else:
            _print_plan(plan)
        return

    store = Store(resolve_db_url(db))
    # With --format json, stdout carries the JSON alone: no progress, and the few lines a
    # person needs go to stderr.
    quiet = format == "json"
    say = err_console if quiet else console
    say.print(_plan_line(plan), highlight=False)
    if wait and not quiet and (plan.todo or plan.in_flight):
        report = run_with_progress(
            plan.todo, console, lambda listener: run_plan(plan, store, listener=listener),
            in_flight=[r for r, _ in plan.in_flight])
    else:
        report = run_plan(plan, store, wait=wait)
    if not wait:
        if quiet:
            print_json({"submitted": report.submitted,
                        "in_flight": [r.key for r, _ in plan.in_flight]})
        else:
            _print_submitted(report, plan.in_flight)
        return

    if format == "json":
        # Each run's state now, not the plan's: the sweep just ran some of them.
        runs = [dataclasses.replace(r, state=run_state(Path(r.run_dir))) for r in plan.runs]
        print_json({"runs": [r.summary() for r in runs],
                    "leaderboard": store.leaderboard(subset="overall")})
    else:
        _print_leaderboard(store, {r.key for r in plan.runs})
        console.print("Open the dashboard: [bold]harness serve[/] (then http://127.0.0.1:8000/)")
    if report.failed:
        say.print(f"[red]{len(report.failed)} run(s) failed:[/]")
        for record in report.failed:
            say.print(f"  {record.run_key} {spelled_out(record.encoder.id)} /"
                      f" {record.recipe}: {escape(record.error or '')}")
        raise typer.Exit(1)


def _plan_line(plan: SweepPlan) -> str:
    """What this sweep will do, in one sentence."""
    runs, todo, in_flight = plan.runs, plan.todo, plan.in_flight
    if not todo and not in_flight:
        counts = {s: sum(r.state == s for r in runs) for s in ("done", "failed")}
        hint = " (use --rerun-failed to retry failures)" if counts["failed"] else ""
        return (f"Nothing new to run: all {len(runs)} planned runs already ran"
                f" ({counts['done']} done, {counts['failed']} failed){hint}.")
    flight_note = (f", {len(in_flight)} still in flight from an earlier submission"
                   " (watched, not resubmitted)" if in_flight else "")
    return (f"Planned {len(runs)} runs: {len(todo)} to run, "
            f"{len(runs) - len(todo) - len(in_flight)} already ran{flight_note}."
            f" Executor: {plan.where}"
            + (f" (preset {plan.preset.name}: random-weight tiny twins, smoke results"
               " only)" if plan.preset.tiny_encoders else ""))


def _print_submitted(report: SweepReport, in_flight: list) -> None:
    jobs = ", ".join(report.submitted) or "none"
    console.print(f"Submitted {len(report.submitted)} job(s): {jobs}."
                  + (f" {len(in_flight)} run(s) were already in flight." if in_flight else ""))
    console.print("Follow them with [bold]harness status[/]; run this sweep again to watch"
                  " them and ingest their results (nothing is submitted twice).")


def _print_plan(plan: SweepPlan) -> None:
    runs, todo, costs = plan.runs, plan.todo, plan.costs or []
    table = Table(title=f"Plan (executor: {plan.where})")
    for name in ("key", "encoder", "connector", "recipe", "seed", "state", "scheduled"):
        # Keys and encoder ids are copied by users: folded when narrow, never cut.
        table.add_column(name, min_width=12 if name == "key" else None,
                         overflow="fold" if name in ("key", "encoder") else "ellipsis")
    for r in runs:
        # A combination lists its encoders one per line, so no id is cut.
        table.add_row(r.key, spelled_out(r.encoder_id, "\n+ ") + (" (tiny)" if r.tiny else ""),
                      r.config.connector, r.config.recipe.name, str(r.config.seed), r.state,
                      "yes" if r in todo else "no")
    print_table(table)
    placed = {(r.config.connector, r.config.llm.id): in_llm(r) for r in runs}
    for (connector, llm), (where, layers) in placed.items():
        if layers:
            console.print(f"{connector} on {llm}: in-LLM modules {where} decoder layers "
                          f"{', '.join(map(str, layers))}", highlight=False, markup=False)
    scheduled = [(r, c) for r, c in zip(runs, costs, strict=True) if r in todo]
    if scheduled and not all(r.tiny for r, _ in scheduled):
        costs_table = Table("key", "GPU-hours", "memory per GPU", "DDP / FSDP", "disk",
                            title=f"Cost per run ({costs[0].assumptions})")
        for r, c in scheduled:
            fits = "" if c.fits is not False else " (does not fit)"
            costs_table.add_row(r.key, "-" if c.gpu_hours is None else f"{c.gpu_hours:,.1f}",
                                f"{c.memory_gb_per_gpu:,.1f} GB {c.distributed}{fits}",
                                f"{c.memory_gb_ddp:,.1f} / {c.memory_gb_fsdp:,.1f} GB",
                                f"{c.disk_gb:,.1f} GB")
        print_table(costs_table)
    total = total_cost([c for _, c in scheduled])
    hours = ("set gpu in the cluster profile for GPU-hours" if total["gpu_hours"] is None
             else f"{total['gpu_hours']:,.1f} GPU-hours")
    console.print(f"Scheduled: {total['runs']} runs, {total['flops']:.3g} FLOPs, {hours}; "
                  f"up to {total['max_memory_gb_per_gpu']} GB per GPU; "
                  f"{total['disk_gb']:,.1f} GB of disk"
                  + (f"; {total['runs_that_do_not_fit']} do not fit the GPU's memory"
                     if total["runs_that_do_not_fit"] else ""), highlight=False)


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
    elif all(r.get("scale") == "cpu" for r in rows):
        title += " (CPU-scale: real weights, a small LLM on little data; not paper-scale)"
    table = Table(title=title)
    table.add_column("encoder", no_wrap=True)
    # The connector matters once encoders are combined (sva vs concat): shown then, or when
    # the runs differ in it.
    connectors = len({r["connector"] for r in rows}) > 1 or any(
        is_combination(r["encoder_id"]) for r in rows)
    # The metric too once a benchmark has several (e.g. accuracy and accuracy_blind).
    metrics = bool(benchmarks_with_several_metrics((r["benchmark"], r["metric"]) for r in rows))
    names = ("group", *(("connector",) if connectors else ()), "recipe", "benchmark",
             *(("metric",) if metrics else ()), "score", "chance", "n")
    for name in names:
        table.add_column(name, justify="right" if name in ("score", "chance", "n") else "left")
    for r in sorted(rows, key=lambda r: (r["benchmark"], r["metric"], r["recipe"], -r["value"])):
        chance = f"{r['chance']:.1f}" if r.get("chance") is not None else ""
        mark = "*" if r["smoke"] and not all(smoke) else ""
        table.add_row(spelled_out(r["encoder_id"], "\n+ ") + mark, r["group"],
                      *((r["connector"],) if connectors else ()), r["recipe"], r["benchmark"],
                      *((r["metric"],) if metrics else ()), f"{r['value']:.1f}", chance,
                      str(r["n"]))
    print_table(table)
