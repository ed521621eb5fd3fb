"""Cluster profiles: the SLURM settings of a sweep (partition, account, QOS, constraint, time
limit, nodes, tasks, GPUs and CPUs per task, memory, array parallelism, extra sbatch options),
kept in a TOML file and named on the command line with ``--cluster``; flags override them.

A profile is found as a path ending in ``.toml``, else as ``NAME.toml`` in ``./clusters/``,
``~/.config/harness/clusters/`` and the built-in ``recipes/clusters/`` (first match wins).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.resources
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness.config import from_mapping, read_toml
from harness.errors import HarnessError
from harness.preset import DataLoading
from harness.sweep.cost import DEFAULT_MFU, gpu_named

# Control characters would end an ``#SBATCH`` line and start a shell command in the script.
_SAFE = re.compile(r"^[^\x00-\x1f\x7f]*$")


@dataclass(frozen=True)
class SlurmSettings:
    """What one SLURM job asks for. A job carries one run (or ``runs_per_job`` runs)."""

    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None
    """SLURM node features, e.g. ``a100|h100``."""
    time_min: int = 240
    """Time limit per job in minutes. A longer run is checkpointed before the limit and
    requeued, so this need not cover a whole run."""
    nodes: int = 1
    tasks_per_node: int = 1
    """Processes per node, one per GPU: accelerate joins them into one data-parallel group."""
    gpus_per_task: int = 0
    cpus_per_task: int | None = None
    mem_gb: float | None = None
    """Memory per node in GB (SLURM's default when unset)."""
    array_parallelism: int = 64
    """Jobs of the array that may run at once."""
    signal_delay_s: int = 120
    """How long before the time limit SLURM sends the checkpoint signal."""
    max_timeouts: int = 20
    """How many times a job may hit its time limit and be requeued (preemptions are free)."""
    setup: tuple[str, ...] = ()
    """Shell lines run in the job script before the run, e.g. ``module load cuda/12.4``."""
    sbatch: dict[str, Any] = field(default_factory=dict)
    """Any other sbatch option, e.g. ``{exclude = "node07", mail-type = "FAIL"}``."""

    def __post_init__(self) -> None:
        for name in ("time_min", "nodes", "tasks_per_node", "array_parallelism"):
            if getattr(self, name) < 1:
                raise HarnessError(f"bad {name} {getattr(self, name)!r}: must be at least 1")
        for name in ("gpus_per_task", "signal_delay_s", "max_timeouts"):
            if getattr(self, name) < 0:
                raise HarnessError(f"bad {name} {getattr(self, name)!r}: must be 0 or more")
        if self.cpus_per_task is not None and self.cpus_per_task < 1:
            raise HarnessError(f"bad cpus_per_task {self.cpus_per_task!r}: must be at least 1")
        if self.mem_gb is not None and self.mem_gb <= 0:
            raise HarnessError(f"bad mem_gb {self.mem_gb!r}: must be more than 0")
        texts = {n: getattr(self, n) for n in ("partition", "account", "qos", "constraint")}
        texts |= {f"sbatch.{k}": v for k, v in self.sbatch.items()}
        for name, value in texts.items():
            if value is not None and not _SAFE.match(str(value)):
                raise HarnessError(f"bad {name} {value!r}: control characters are not allowed")
        for key in self.sbatch:
            if not re.fullmatch(r"[a-z][a-z0-9-]*", key):
                raise HarnessError(f"bad sbatch option {key!r}: expected a long option name"
                                   " such as 'exclude' or 'mail-type'")

    def submitit_parameters(self) -> dict[str, Any]:
        """The parameters of ``submitit.SlurmExecutor.update_parameters``."""
        params: dict[str, Any] = {
            "time": self.time_min, "nodes": self.nodes, "ntasks_per_node": self.tasks_per_node,
            "array_parallelism": self.array_parallelism, "signal_delay_s": self.signal_delay_s,
            "job_name": "harness",
            # Let SLURM itself requeue a job whose node failed (it restarts from checkpoints).
            "additional_parameters": {"requeue": True, **self.sbatch},
        }
        for name in ("partition", "account", "qos", "constraint", "cpus_per_task"):
            if getattr(self, name) is not None:
                params[name] = getattr(self, name)
        if self.gpus_per_task:
            params["gpus_per_task"] = self.gpus_per_task
        if self.mem_gb is not None:
            params["mem"] = f"{round(self.mem_gb * 1024)}M"
        if self.setup:
            params["setup"] = list(self.setup)
        return params

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in (("partition", self.partition),
                                          ("account", self.account), ("qos", self.qos),
                                          ("constraint", self.constraint)) if v]
        parts += [f"time={self.time_min}min", f"nodes={self.nodes}",
                  f"tasks/node={self.tasks_per_node}", f"gpus/task={self.gpus_per_task}"]
        if self.cpus_per_task:
            parts.append(f"cpus/task={self.cpus_per_task}")
        if self.mem_gb:
            parts.append(f"mem={self.mem_gb:g}GB")
        parts.append(f"array parallelism={self.array_parallelism}")
        return ", ".join(parts)


@dataclass(frozen=True)
class ClusterProfile:
    name: str
    description: str = ""
    executor: Literal["slurm", "local", "debug"] = "slurm"
    runs_per_job: int | None = None
    slurm: SlurmSettings = field(default_factory=SlurmSettings)
    accelerate_config: str | None = None
    """An accelerate config file (``accelerate config`` writes one) whose settings every job
    builds its Accelerator under, as ``accelerate launch --config_file`` would give them; a
    relative path is read from the profile's folder. Processes come from the job's tasks."""
    data_root: str | None = None
    """Where training sources and benchmarks lie on this cluster (``DIR/<name>/``), as the
    jobs see it; ``--data-root`` and ``$HARNESS_DATA`` come first."""
    gpu: str | None = None
    """The GPU every task gets (``h100-sxm``, ``a100-80gb``, ...: ``harness.sweep.cost.GPUS``),
    so ``--dry-run`` can say GPU-hours and whether a run fits its memory."""
    gpus_per_node: int = 1
    mfu: float = DEFAULT_MFU
    """Model FLOPs utilisation assumed for GPU-hours."""
    data_loading: DataLoading | None = None
    """DataLoader workers and pinned memory on this cluster's nodes (``[data_loading]``);
    replaces the preset's."""
    distributed: Literal["auto", "ddp", "fsdp"] | None = None
    """``auto``, ``ddp`` or ``fsdp`` for every run this profile submits; replaces the
    preset's (see ``Preset.distributed``)."""


def search_path() -> list[Path]:
    folders = [Path("clusters"), Path.home() / ".config" / "harness" / "clusters"]
    with contextlib.suppress(ModuleNotFoundError):  # built-ins: package data of ``recipes``
        folders.append(Path(str(importlib.resources.files("recipes") / "clusters")))
    return folders


def load_cluster(name_or_path: str) -> ClusterProfile:
    if name_or_path.endswith(".toml"):
        path = Path(name_or_path)
    else:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name_or_path):
            raise HarnessError(f"bad cluster name {name_or_path!r}: use a profile name or a"
                               " .toml file")
        found = [d / f"{name_or_path}.toml" for d in search_path()]
        path = next((p for p in found if p.is_file()), None)
        if path is None:
            valid = ", ".join(cluster_names()) or "none"
            raise HarnessError(f"unknown cluster {name_or_path!r}; valid: {valid}"
                               " (or a path to a .toml profile)")
    data = read_toml(path)
    data.setdefault("name", path.stem)
    profile = from_mapping(ClusterProfile, data, where=str(path))
    if profile.gpu is not None:
        gpu_named(profile.gpu)  # an unknown GPU is refused here, naming the known ones
    if not 0 < profile.mfu <= 1:
        raise HarnessError(f"{path}: mfu = {profile.mfu}; it must be in (0, 1]")
    if profile.accelerate_config is not None:
        config = (path.parent / Path(profile.accelerate_config).expanduser()).resolve()
        profile = dataclasses.replace(profile, accelerate_config=str(config))
    return profile


def cluster_names() -> list[str]:
    names: set[str] = set()
    for folder in search_path():
        if folder.is_dir():
            names |= {p.stem for p in folder.glob("*.toml")}
    return sorted(names)


def override(settings: SlurmSettings, **flags: Any) -> SlurmSettings:
    """``settings`` with every flag that was given (not None) put in."""
    given = {k: v for k, v in flags.items() if v is not None}
    if "sbatch" in given:
        given["sbatch"] = {**settings.sbatch, **given["sbatch"]}
    return dataclasses.replace(settings, **given)


def parse_sbatch_options(options: list[str]) -> dict[str, str]:
    """``--sbatch exclude=node07`` flags as a dict (``KEY=VALUE``, the key without dashes)."""
    parsed: dict[str, str] = {}
    for option in options:
        key, sep, value = option.partition("=")
        if not sep or not key.strip():
            raise HarnessError(f"bad --sbatch {option!r}: expected KEY=VALUE, e.g."
                               " exclude=node07")
        parsed[key.strip().lstrip("-")] = value.strip()
    return parsed
