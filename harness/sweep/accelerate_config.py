"""An accelerate config file (as ``accelerate config`` writes it) turned by accelerate's own
launcher code into the environment ``accelerate launch --config_file`` would give a process, so
a sweep's jobs (started by submitit, not by ``accelerate launch``) build their Accelerator
under it. Also the check of which distributed types the training loop supports."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

# Private in accelerate 1.x, but it is the one place that merges a config file into the
# launch arguments (and names its errors); parsing the YAML here would drift from it.
from accelerate.commands.launch import _validate_launch_command, launch_command_parser
from accelerate.utils.launch import prepare_multi_gpu_env, prepare_simple_launcher_cmd_env

from harness.errors import HarnessError

# What the loop does with each process: DDP (accelerate's MULTI_* device types), FSDP (the
# harness's own FSDP2 sharding, harness.parallel) or nothing.
SUPPORTED = ("NO", "MULTI_CPU", "MULTI_GPU", "MULTI_NPU", "MULTI_XPU", "MULTI_MLU",
             "MULTI_SDAA", "MULTI_MUSA", "MULTI_HPU", "MULTI_NEURON", "FSDP")
# The variables the Accelerator reads. Precision is not among them: the recipe sets it (it is
# part of the run's identity), so a config file's mixed_precision is ignored.
_PREFIXES = ("ACCELERATE_", "FSDP_")
_IGNORED = ("ACCELERATE_MIXED_PRECISION",)

WHY_NOT = {
    "DEEPSPEED": "the loop steps its own optimizer and scheduler, which DeepSpeed takes over",
    "MEGATRON_LM": "the MLLM is not a Megatron-LM model",
    "XLA": "the loop is not written for TPUs",
}


def check_distributed_type(kind: str, where: str) -> None:
    """Refuse a distributed type the loop cannot train with correctly (one line, with why)."""
    if kind not in SUPPORTED:
        reason = WHY_NOT.get(kind, "unknown to this harness")
        raise HarnessError(f"{where}: distributed_type {kind} is not supported ({reason});"
                           f" valid: {', '.join(SUPPORTED)}")


def launch_env(path: str | Path) -> dict[str, str]:
    """The ``ACCELERATE_*`` and ``FSDP_*`` variables ``accelerate launch --config_file PATH``
    sets, read by accelerate's own code (its parser, defaults and env builders)."""
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"accelerate config {path}: no such file")
    args = launch_command_parser().parse_args(["--config_file", str(path), "job.py"])
    try:
        args, defaults, _ = _validate_launch_command(args)
    except (ValueError, TypeError, KeyError, OSError) as exc:
        raise HarnessError(f"accelerate config {path}: {str(exc).splitlines()[0]}") from None
    kind = getattr(defaults.distributed_type, "value", str(defaults.distributed_type))
    check_distributed_type(kind, f"accelerate config {path}")
    if args.multi_gpu or args.use_fsdp:
        env = prepare_multi_gpu_env(args)
    else:
        _, env = prepare_simple_launcher_cmd_env(args)
    return {k: v for k, v in env.items() if k.startswith(_PREFIXES) and k not in _IGNORED}


@contextlib.contextmanager
def applied(path: str | Path | None) -> Iterator[dict[str, str]]:
    """Put ``launch_env(path)`` into this process's environment for the block (nothing for
    ``None``), and take it out after, so one process can run jobs under several configs."""
    env = launch_env(path) if path is not None else {}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield env
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
