"""A sweep from what a user asked to what runs: ``SweepRequest`` (the flags of ``harness
sweep``, as values) becomes a ``SweepPlan`` (the planned runs, which of them to run, where,
at what cost), and ``run_plan`` runs it through the driver.

Every check happens in ``prepare``, before anything is submitted: a bad name, a cluster flag
for a local sweep, an accelerate config the loop cannot train with, a run that fits no GPU.
The CLI is one front end of this module; a script or a server can call it the same way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.combination import combined_id
from harness.config import to_plain
from harness.encoder import ENCODERS, available_encoder_ids, unavailable_encoders
from harness.errors import HarnessError
from harness.preset import PRESETS, Preset, load_preset_file
from harness.recipe import RECIPES, Recipe, load_recipe_file
from harness.store import Store, ingest_paths
from harness.sweep.accelerate_config import launch_env
from harness.sweep.cluster import ClusterProfile, SlurmSettings, load_cluster, override
from harness.sweep.cost import Cost, gpu_named
from harness.sweep.driver import Listener, SweepReport, execute_runs, find_in_flight
from harness.sweep.estimate import Hardware, memory_plan
from harness.sweep.inputs import resolve_data_root, run_root, split_names
from harness.sweep.job import RunJob
from harness.sweep.plan import Run, plan_sweep, split_combination
from harness.sweep.sizes import in_llm_layers
from harness.sweep.submit import check_executor, choose_runs_per_job
from harness.sweep.tracking import Ticket


def resolve_encoders(text: str, strict: bool = False) -> tuple[list[str], dict[str, str]]:
    """The encoder ids ``text`` names, and for ``all`` the installed-but-unavailable ones
    left out (id -> why), for the caller to tell the user."""
    ENCODERS.discover(strict=strict)
    names = split_names(text)
    if names == ["all"]:
        return available_encoder_ids(strict=strict), unavailable_encoders(strict=strict)
    if not names:
        raise HarnessError("no encoder given; use --encoders all or a comma-separated list")
    # An entry may join encoders with '+': one run on all of them (each id checked).
    return [combined_id(split_combination(name)) for name in names], {}


def resolve_preset(name: str) -> Preset:
    """A preset by name, or a user's preset file (anything ending in .toml)."""
    return load_preset_file(name) if name.endswith(".toml") else PRESETS.get(name)


def resolve_recipes(text: str | None, default: Sequence[str]) -> list[Recipe]:
    """Recipe names, or paths to a user's own recipe files (anything ending in .toml)."""
    names = split_names(text) if text else list(default)
    return [load_recipe_file(n) if n.endswith(".toml") else RECIPES.get(n) for n in names]


def resolve_seeds(text: str | None, default: Sequence[int]) -> list[int]:
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
    path = str(flag.expanduser().resolve()) if flag else (
        profile.accelerate_config if profile else None)
    if path is not None:
        launch_env(path)
    return path


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


def in_llm(run: Run) -> tuple[str, list[int]]:
    """Where a run's connector puts modules inside the LLM, and at which decoder layers."""
    return in_llm_layers(run.encoder_ids, run.tiny, run.config.connector, run.config.llm)


@dataclass(frozen=True)
class SweepRequest:
    """What a user asks of a sweep, as ``harness sweep`` takes it: names and files unresolved,
    None for "the default" (the preset's, the cluster profile's, the environment's)."""

    encoders: str
    preset: str
    recipes: str | None = None
    seeds: str | None = None
    connector: str | None = None
    connector_args: str | None = None
    executor: str | None = None
    cluster: str | None = None
    slurm_flags: dict[str, Any] = field(default_factory=dict)
    """SLURM settings given one by one (partition, time_min, ...); None or empty: not given."""
    accelerate_config: Path | None = None
    parallel: int | None = None
    runs_per_job: int | None = None
    wait: bool = True
    root: Path | None = None
    data_root: Path | None = None
    dry_run: bool = False
    rerun_failed: bool = False
    strict: bool = False


@dataclass
class SweepPlan:
    """A checked sweep: every planned run, those this sweep runs (``todo``), those still in
    flight from an earlier submission (watched, never resubmitted), where they run, and each
    run's cost where the GPU is known (a dry run always)."""

    preset: Preset
    runs: list[Run]
    todo: list[Run]
    in_flight: list[tuple[Run, Ticket]]
    root: Path
    executor: str
    slurm: SlurmSettings | None
    parallel: int
    runs_per_job: int
    accelerate_config: str | None
    hardware: Hardware
    costs: list[Cost] | None
    left_out: dict[str, str]
    """Encoders ``all`` left out (id -> why: an optional extra not installed)."""

    @property
    def where(self) -> str:
        """The executor in words, as the plan and the progress display say it."""
        runs = f"{self.runs_per_job} run{'s' if self.runs_per_job > 1 else ''} per job"
        if self.executor == "slurm" and self.slurm is not None:
            return (f"slurm ({self.slurm.describe()}; {runs}; job files in "
                    f"{self.root / 'submitit'})")
        if self.executor == "local":
            return f"local ({self.parallel} job{'s' if self.parallel > 1 else ''} at once, {runs})"
        return "debug (in this process)"

    @property
    def already_ran(self) -> list[Run]:
        return [r for r in self.runs if r.state != "new"]

    def as_json(self) -> dict[str, Any]:
        """The plan for scripts (``--dry-run --format json``)."""
        costs = self.costs or []
        return {"executor": self.executor,
                "executor_settings": to_plain(self.slurm) if self.slurm
                else {"parallel": self.parallel},
                "runs_per_job": self.runs_per_job, "preset": self.preset.name,
                "runs": [r.summary() | {"scheduled": r in self.todo, "cost": c.as_dict(),
                                        "in_llm_layers": in_llm(r)[1]}
                         for r, c in zip(self.runs, costs, strict=True)],
                "total": total_cost([c for r, c in zip(self.runs, costs, strict=True)
                                     if r in self.todo])}

    def driver_options(self, store: Store) -> dict[str, Any]:
        """``execute_runs``'s keyword arguments for this plan."""
        return {"executor": self.executor, "root": self.root, "store": store,
                "parallel": self.parallel, "slurm": self.slurm,
                "runs_per_job": self.runs_per_job, "in_flight": self.in_flight,
                "job": RunJob(accelerate_config=self.accelerate_config)}


def _scheduled(runs: list[Run], flying: set[str], rerun_failed: bool) -> list[Run]:
    return [r for r in runs if r.key not in flying
            and (r.state == "new" or (rerun_failed and r.state == "failed"))]


def prepare(request: SweepRequest) -> SweepPlan:
    """Resolve and check everything the request names, plan its runs and find which to run.
    Outside a dry run it also looks for runs still in flight (and fails those whose job died),
    and refuses a run that fits the profile's GPU under no strategy."""
    # Read once: the executor, accelerate config, data root, loading and GPU all come from it.
    profile = load_cluster(request.cluster) if request.cluster else None
    kind, slurm, profile_per_job = resolve_executor(
        request.executor, profile, request.slurm_flags, request.parallel)
    accelerate_file = resolve_accelerate_config(request.accelerate_config, profile)
    if not request.wait and kind != "slurm":
        raise HarnessError(f"--no-wait needs --executor slurm (a {kind} job lives only as"
                           " long as this command)")
    preset = resolve_preset(request.preset)
    encoder_ids, left_out = resolve_encoders(request.encoders, request.strict)
    root = run_root(request.root)
    runs = plan_sweep(encoder_ids, resolve_recipes(request.recipes, preset.recipes), preset,
                      resolve_seeds(request.seeds, preset.seeds), root,
                      connector=request.connector, connector_args=request.connector_args,
                      data_root=resolve_data_root(request.data_root, profile),
                      data_loading=profile.data_loading if profile else None,
                      distributed=profile.distributed if profile else None)
    in_flight: list[tuple[Run, Ticket]] = []
    if not request.dry_run:
        in_flight, died = find_in_flight(runs)
        gone = {r.key for r in died}
        runs = [dataclasses.replace(r, state="failed") if r.key in gone else r for r in runs]
    flying = {r.key for r, _ in in_flight}
    parallel = request.parallel or 1
    per_job = choose_runs_per_job(kind, len(_scheduled(runs, flying, request.rerun_failed)),
                                  parallel, request.runs_per_job or profile_per_job)
    hardware = resolve_hardware(profile, slurm)
    costs = None
    if request.dry_run or hardware.gpu is not None:
        # Where the GPU is known: each run's memory under DDP and FSDP, the strategy it gets,
        # and (when not a dry run) a run that fits under none refused before submitting.
        runs, costs = memory_plan(runs, hardware, root / "cache", refuse=not request.dry_run)
    return SweepPlan(preset=preset, runs=runs,
                     todo=_scheduled(runs, flying, request.rerun_failed), in_flight=in_flight,
                     root=root, executor=kind, slurm=slurm, parallel=parallel,
                     runs_per_job=per_job, accelerate_config=accelerate_file,
                     hardware=hardware, costs=costs, left_out=left_out)


def run_plan(plan: SweepPlan, store: Store, *, wait: bool = True,
             listener: Listener | None = None) -> SweepReport:
    """Ingest what already ran, then run the plan's new runs and watch those in flight;
    ``listener`` hears each run start and finish (a progress display). Without ``wait`` it
    returns once everything is submitted (SLURM)."""
    ingest_paths(store, [Path(r.run_dir) for r in plan.already_ran])
    if not plan.todo and not plan.in_flight:
        return SweepReport()
    return execute_runs(plan.todo, wait=wait, listener=listener, **plan.driver_options(store))
