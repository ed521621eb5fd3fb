"""``harness sweep``: plan encoder x recipe x seed runs, run the new ones, store and show them."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from harness.cli.common import (
    check_format,
    console,
    err_console,
    print_json,
    print_table,
    run_root,
    split_names,
)
from harness.cli.sweep_progress import benchmarks_with_several_metrics, run_with_progress
from harness.combination import combined_id, is_combination, spelled_out
from harness.config import to_plain
from harness.encoder import ENCODERS, available_encoder_ids, unavailable_encoders
from harness.errors import HarnessError
from harness.model.connector_options import describe
from harness.model.connectors import CONNECTORS
from harness.preset import PRESETS, load_preset_file
from harness.recipe import RECIPES, Recipe, load_recipe_file
from harness.store import Store, ingest_paths, resolve_db_url
from harness.sweep.cluster import (
    ClusterProfile,
    SlurmSettings,
    load_cluster,
    override,
    parse_sbatch_options,
)
from harness.sweep.cost import Cost, gpu_named
from harness.sweep.driver import SweepReport, execute_runs, find_in_flight
from harness.sweep.estimate import Hardware, memory_plan
from harness.sweep.job import RunJob
from harness.sweep.plan import Run, plan_sweep, run_state, split_combination
from harness.sweep.sizes import in_llm_layers
from harness.sweep.submit import EXECUTORS, check_executor, choose_runs_per_job
from harness.sweep.tracking import Ticket


def resolve_encoders(text: str, strict: bool = False) -> list[str]:
    ENCODERS.discover(strict=strict)
    names = split_names(text)
    if names == ["all"]:
        # Encoders whose optional extra is not installed are left out, each with a notice.
        for name, note in unavailable_encoders(strict=strict).items():
            err_console.print(f"[yellow]skipping[/] {escape(name)}: {escape(note)}")
        return available_encoder_ids(strict=strict)
    if not names:
        raise HarnessError("no encoder given; use --encoders all or a comma-separated list")
    # An entry may join encoders with '+': one run on all of them (each id checked).
    return [combined_id(split_combination(name)) for name in names]


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


def resolve_executor(executor: str | None, profile: ClusterProfile | None,
                     flags: dict[str, Any], parallel: int | None
                     ) -> tuple[str, SlurmSettings | None, int | None]:
    """The executor and its SLURM settings: the profile's, with every flag given put in."""
    kind = check_executor(executor or (profile.executor if profile else "local"))
    if kind != "slurm":
        given = sorted(f"--{k.replace('_', '-')}" for k, v in flags.items() if v)
        if given:
            raise HarnessError(f"{', '.join(given)} only apply to --executor slurm (this sweep"
                               f" runs on {kind!r})")
        return kind, None, profile.runs_per_job if profile else None
    settings = override(profile.slurm if profile else SlurmSettings(),
                        array_parallelism=parallel, **flags)
    return kind, settings, profile.runs_per_job if profile else None


def resolve_accelerate_config(flag: Path | None, profile: ClusterProfile | None) -> str | None:
    """The accelerate config file the jobs use (the flag's, else the profile's), checked here
    so that a config the loop cannot train with fails before anything is submitted."""
    from harness.sweep.accelerate_config import launch_env

    path = str(flag.expanduser().resolve()) if flag else (
        profile.accelerate_config if profile else None)
    if path is not None:
        launch_env(path)
    return path


DATA_ENV = "HARNESS_DATA"


def resolve_data_root(flag: Path | None, profile: ClusterProfile | None) -> Path | None:
    """``--data-root``, else ``$HARNESS_DATA``, else the cluster profile's ``data_root``."""
    if flag is not None:
        return flag.expanduser()
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    profile_root = profile.data_root if profile else None
    return None if profile_root is None else Path(profile_root).expanduser()


def sweep(
    encoders: Annotated[str, typer.Option(
        help="'all' or comma-separated encoder ids; join ids with '+' for one run on several"
             " encoders (e.g. a+b,c: a run on a and b together, and one on c).")],
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
    slurm_flags = {"partition": partition, "account": account, "qos": qos,
                   "constraint": constraint, "time_min": time, "nodes": nodes,
                   "tasks_per_node": tasks_per_node, "gpus_per_task": gpus_per_task,
                   "cpus_per_task": cpus_per_task, "mem_gb": mem,
                   "sbatch": parse_sbatch_options(sbatch) if sbatch else None}
    # Read once: the executor, accelerate config, data root, loading and GPU all come from it.
    profile = load_cluster(cluster) if cluster else None
    kind, slurm, profile_per_job = resolve_executor(executor, profile, slurm_flags, parallel)
    accelerate_file = resolve_accelerate_config(accelerate_config, profile)
    if not wait and kind != "slurm":
        raise HarnessError(f"--no-wait needs --executor slurm (a {kind} job lives only as"
                           " long as this command)")
    per_job_asked = runs_per_job or profile_per_job
    chosen = load_preset_file(preset) if preset.endswith(".toml") else PRESETS.get(preset)
    encoder_ids = resolve_encoders(encoders, strict)
    runs = plan_sweep(encoder_ids, resolve_recipes(recipes, chosen.recipes), chosen,
                      resolve_seeds(seeds, chosen.seeds), run_root(root), connector=connector,
                      connector_args=connector_args,
                      data_root=resolve_data_root(data_root, profile),
                      data_loading=profile.data_loading if profile else None,
                      distributed=profile.distributed if profile else None)
    in_flight: list[tuple[Run, Ticket]] = []
    if not dry_run:
        in_flight, died = find_in_flight(runs)
        gone = {r.key for r in died}
        runs = [dataclasses.replace(r, state="failed") if r.key in gone else r for r in runs]
    flying = {r.key for r, _ in in_flight}
    todo = [r for r in runs if r.key not in flying
            and (r.state == "new" or (rerun_failed and r.state == "failed"))]
    parallel_local = parallel or 1
    per_job = choose_runs_per_job(kind, len(todo), parallel_local, per_job_asked)
    where = _describe_executor(kind, slurm, per_job, parallel_local, run_root(root))

    hardware = resolve_hardware(profile, slurm)
    if dry_run or hardware.gpu is not None:
        # Where the GPU is known: each run's memory under DDP and FSDP, the strategy it gets,
        # and (when not a dry run) a run that fits under none refused before submitting.
        runs, costs = memory_plan(runs, hardware, run_root(root) / "cache", refuse=not dry_run)
        todo = [r for r in runs if r.key not in flying
                and (r.state == "new" or (rerun_failed and r.state == "failed"))]
    if dry_run:
        if format == "json":
            print_json({"executor": kind, "executor_settings": to_plain(slurm) if slurm
                        else {"parallel": parallel_local}, "runs_per_job": per_job,
                        "preset": chosen.name,
                        "runs": [r.summary() | {"scheduled": r in todo, "cost": c.as_dict(),
                                                "in_llm_layers": _in_llm(r)[1]}
                                 for r, c in zip(runs, costs, strict=True)],
                        "total": total_cost([c for r, c in zip(runs, costs, strict=True)
                                             if r in todo])})
        else:
            _print_plan(runs, todo, where, costs, hardware)
        return

    store = Store(resolve_db_url(db))
    report = SweepReport()
    # With --format json, stdout carries the JSON alone: no progress, and the few lines a
    # person needs go to stderr.
    quiet = format == "json"
    say = err_console if quiet else console
    if not todo and not in_flight:
        counts = {s: sum(r.state == s for r in runs) for s in ("done", "failed")}
        hint = " (use --rerun-failed to retry failures)" if counts["failed"] else ""
        say.print(f"Nothing new to run: all {len(runs)} planned runs already ran"
                      f" ({counts['done']} done, {counts['failed']} failed){hint}.")
        ingest_paths(store, [Path(r.run_dir) for r in runs if r.state != "new"])
    else:
        flight_note = (f", {len(in_flight)} still in flight from an earlier submission"
                       " (watched, not resubmitted)" if in_flight else "")
        say.print(f"Planned {len(runs)} runs: {len(todo)} to run, "
                  f"{len(runs) - len(todo) - len(in_flight)} already ran{flight_note}."
                  f" Executor: {where}"
                  + (f" (preset {chosen.name}: random-weight tiny twins, smoke results"
                     " only)" if chosen.tiny_encoders else ""), highlight=False)
        ingest_paths(store, [Path(r.run_dir) for r in runs if r.state != "new"])
        options = {"executor": kind, "root": run_root(root), "store": store,
                   "parallel": parallel_local, "slurm": slurm, "runs_per_job": per_job,
                   "in_flight": in_flight, "job": RunJob(accelerate_config=accelerate_file)}
        if wait and quiet:
            report = execute_runs(todo, **options)
        elif wait:
            report = run_with_progress(todo, options, console,
                                       in_flight=[r for r, _ in in_flight])
        else:
            report = execute_runs(todo, wait=False, **options)
            if quiet:
                print_json({"submitted": report.submitted,
                            "in_flight": [r.key for r, _ in in_flight]})
            else:
                _print_submitted(report, in_flight)
            return

    if format == "json":
        # Each run's state now, not the plan's: the sweep just ran some of them.
        runs = [dataclasses.replace(r, state=run_state(Path(r.run_dir))) for r in runs]
        print_json({"runs": [r.summary() for r in runs],
                    "leaderboard": store.leaderboard(subset="overall")})
    else:
        _print_leaderboard(store, {r.key for r in runs})
        console.print("Open the dashboard: [bold]harness serve[/] (then http://127.0.0.1:8000/)")
    if report.failed:
        say.print(f"[red]{len(report.failed)} run(s) failed:[/]")
        for record in report.failed:
            say.print(f"  {record.run_key} {spelled_out(record.encoder.id)} /"
                          f" {record.recipe}:"
                          f" {escape(record.error or '')}")
        raise typer.Exit(1)


def _describe_executor(kind: str, slurm: SlurmSettings | None, per_job: int, parallel: int,
                       root: Path) -> str:
    runs = f"{per_job} run{'s' if per_job > 1 else ''} per job"
    if kind == "slurm" and slurm is not None:
        return f"slurm ({slurm.describe()}; {runs}; job files in {root / 'submitit'})"
    if kind == "local":
        return f"local ({parallel} job{'s' if parallel > 1 else ''} at once, {runs})"
    return "debug (in this process)"


def _print_submitted(report: SweepReport, in_flight: list) -> None:
    jobs = ", ".join(report.submitted) or "none"
    console.print(f"Submitted {len(report.submitted)} job(s): {jobs}."
                  + (f" {len(in_flight)} run(s) were already in flight." if in_flight else ""))
    console.print("Follow them with [bold]harness status[/]; run this sweep again to watch"
                  " them and ingest their results (nothing is submitted twice).")


def resolve_hardware(profile: ClusterProfile | None, slurm: SlurmSettings | None) -> Hardware:
    """The profile's GPU, the GPUs one run gets (its nodes x GPUs per node) and the MFU."""
    if profile is None:
        return Hardware()
    nodes = slurm.nodes if slurm is not None else 1
    return Hardware(gpu=gpu_named(profile.gpu) if profile.gpu else None,
                    gpus=nodes * profile.gpus_per_node, mfu=profile.mfu)


def total_cost(costs: list[Cost]) -> dict[str, Any]:
    """What the scheduled runs cost together (GPU-hours only with a GPU named)."""
    hours = [c.gpu_hours for c in costs]
    return {"runs": len(costs), "flops": sum(c.flops for c in costs),
            "gpu_hours": None if None in hours else round(sum(hours), 1),
            "disk_gb": round(sum(c.disk_gb for c in costs), 1),
            "max_memory_gb_per_gpu": round(max((c.memory_gb_per_gpu for c in costs),
                                               default=0.0), 1),
            "runs_that_do_not_fit": sum(c.fits is False for c in costs)}


def _print_plan(runs: list[Run], todo: list[Run], executor: str, costs: list[Cost],
                hardware: Hardware) -> None:
    table = Table(title=f"Plan (executor: {executor})")
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
    placed = {(r.config.connector, r.config.llm.id): _in_llm(r) for r in runs}
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


def _in_llm(run: Run) -> tuple[str, list[int]]:
    return in_llm_layers(run.encoder_ids, run.tiny, run.config.connector, run.config.llm)


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
