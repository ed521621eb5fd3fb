"""Checkpoints in a run folder: tensors in safetensors, everything else in JSON (never pickle),
so a preempted or requeued job continues exactly where it stopped, and only for the same run.

``checkpoints/stage-<name>/`` holds the model after a finished stage, ``checkpoints/progress-
<stage>/`` the state inside a stage (model, optimizer, scheduler, RNG, data position),
``checkpoints/eval/<benchmark>.json`` the scores of a finished benchmark. A checkpoint folder
counts only once its ``meta.json`` exists (written last), and only when the run key in it
matches the run's: a folder copied from another config is never resumed.

Under FSDP (``harness.parallel``) the weights and optimizer state go to ``shards/``, one
safetensors file per process written through ``torch.distributed.checkpoint``, so no process
ever holds the full model; such a checkpoint resumes only on as many processes as wrote it.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, load_model, save_file, save_model

from harness.errors import HarnessError
from harness.parallel import Parallel, load_sharded, save_sharded
from harness.record import Score, atomic_write_text, replace_folder, with_umask_mode

FORMAT = 1
CHECKPOINTS = "checkpoints"
META = "meta.json"
MODEL = "model.safetensors"
STATE_TENSORS = "state.safetensors"
STATE_JSON = "state.json"
SHARDS = "shards"


# ---------------------------------------------------------------- nested state <-> files
def pack(obj: Any, tensors: dict[str, torch.Tensor], path: str = "") -> Any:
    """A JSON-ready skeleton of ``obj`` whose tensors are moved into ``tensors`` by name.

    Optimizer and scheduler state dicts hold int keys and tuples, which JSON would turn into
    strings and lists; they are tagged so ``unpack`` gives back exactly what was packed.
    """
    if isinstance(obj, torch.Tensor):
        # A copy on the CPU: safetensors refuses shared storage and device tensors.
        tensors[path] = obj.detach().to("cpu", copy=True).contiguous()
        return {"__tensor__": path}
    if isinstance(obj, np.ndarray):
        return {"__ndarray__": obj.tolist(), "dtype": str(obj.dtype)}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj) and "__tensor__" not in obj:
            return {k: pack(v, tensors, f"{path}.{k}") for k, v in obj.items()}
        return {"__items__": [[k, pack(v, tensors, f"{path}.{k}")] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [pack(v, tensors, f"{path}.{i}") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [pack(v, tensors, f"{path}.{i}") for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    raise TypeError(f"cannot checkpoint a {type(obj).__name__} at {path or 'top level'}")


def unpack(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__ndarray__" in obj:
            return np.array(obj["__ndarray__"], dtype=obj["dtype"])
        if "__items__" in obj:
            return {k: unpack(v, tensors) for k, v in obj["__items__"]}
        if "__tuple__" in obj:
            return tuple(unpack(v, tensors) for v in obj["__tuple__"])
        return {k: unpack(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [unpack(v, tensors) for v in obj]
    return obj


def save_state(folder: Path, state: dict[str, Any]) -> None:
    tensors: dict[str, torch.Tensor] = {}
    skeleton = pack(state, tensors)
    save_file(tensors, str(folder / STATE_TENSORS))
    with_umask_mode(folder / STATE_TENSORS)
    (folder / STATE_JSON).write_text(json.dumps(skeleton))


def load_state(folder: Path) -> dict[str, Any]:
    tensors = load_file(str(folder / STATE_TENSORS))
    return unpack(json.loads((folder / STATE_JSON).read_text()), tensors)


# ---------------------------------------------------------------- random number generators
def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"python": random.getstate(), "numpy": np.random.get_state(),
                             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ---------------------------------------------------------------- the run's checkpoint folder
class RunCheckpoints:
    """The checkpoints of one run; every read checks the run key first.

    Call every method on every process of a job: with whole models (one process, DDP) only
    the main one writes; with a sharded model (FSDP) every one writes its shards."""

    def __init__(self, run_dir: Path, run_key: str, parallel: Parallel | None = None) -> None:
        self.root = Path(run_dir) / CHECKPOINTS
        self.run_key = run_key
        self.parallel = parallel
        """How the job's processes hold the model (None: one process, whole)."""

    @property
    def _sharded(self) -> bool:
        return self.parallel is not None and self.parallel.sharded

    @property
    def _main(self) -> bool:
        return self.parallel is None or self.parallel.is_main

    def _layout(self) -> dict[str, Any]:
        p = self.parallel
        return {"distributed": p.name if p else "ddp", "world": p.world if p else 1}

    # A folder is complete once meta.json names this run (it is written last).
    def _meta(self, folder: Path) -> dict[str, Any] | None:
        self._recover(folder)
        try:
            meta = json.loads((folder / META).read_text())
        except (OSError, ValueError):
            return None
        if meta.get("run_key") != self.run_key or meta.get("format") != FORMAT:
            return None
        return meta

    def _check_layout(self, folder: Path, meta: dict[str, Any]) -> None:
        """A sharded checkpoint fits only the process layout that wrote it (whole weights fit
        any number of DDP processes)."""
        ours = self._layout()
        theirs = {"distributed": meta.get("distributed", "ddp"), "world": meta.get("world", 1)}
        if theirs["distributed"] == ours["distributed"] and (
                not self._sharded or theirs["world"] == ours["world"]):
            return
        raise HarnessError(
            f"{folder}: checkpoint written by {theirs['world']} process(es) under"
            f" {theirs['distributed']}, this job runs {ours['world']} under"
            f" {ours['distributed']}: resume with the same layout, or delete the folder to"
            " train the stage again")

    def _recover(self, final: Path) -> None:
        """A job killed between the two renames of ``replace_folder`` leaves no ``final``, but a
        complete new (``.tmp``) or previous (``.old``) copy: put the newest back. The main
        process does it while the others wait, so every process then reads the same folder."""
        if self._main and not final.exists():
            for spare in (final.with_name(f".{final.name}.tmp"),
                          final.with_name(f".{final.name}.old")):
                if (spare / META).is_file():
                    spare.rename(final)
                    break
        self._barrier()

    def _barrier(self) -> None:
        if self.parallel is not None and self.parallel.world > 1:
            self.parallel.barrier()

    def _write(self, name: str, meta: dict[str, Any], model: torch.nn.Module,
               state: dict[str, Any] | None, optimizer=None) -> None:
        """Write into a temporary folder, then rename it in place: a job killed while saving
        leaves the previous checkpoint intact."""
        if not (self._main or self._sharded):
            return
        tmp = self.root / f".{name}.tmp"
        if self._main:
            self.root.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
        if self._sharded:
            self._barrier()
            plain = save_sharded(tmp / SHARDS, model, optimizer)
            if state is not None:
                state = {**state, "optimizer_plain": plain}
            self._barrier()
        else:
            save_model(model, str(tmp / MODEL))
            if state is not None and optimizer is not None:
                state = {**state, "optimizer": optimizer.state_dict()}
        if self._main:
            if state is not None:
                save_state(tmp, state)
            for f in tmp.rglob("*"):
                if f.is_file():
                    _fsync(f)
            atomic_write_text(tmp / META, json.dumps(
                {"run_key": self.run_key, "format": FORMAT, **self._layout(), **meta},
                indent=2))
            replace_folder(tmp, self.root / name)
        if self._sharded:
            self._barrier()

    def _read_weights(self, folder: Path, meta: dict[str, Any], model: torch.nn.Module,
                      optimizer=None, state: dict[str, Any] | None = None) -> None:
        """Load the weights (and optimizer state) of a complete folder whose ``meta`` was
        read."""
        self._check_layout(folder, meta)
        if self._sharded:
            load_sharded(folder / SHARDS, model, optimizer,
                         None if state is None else state.get("optimizer_plain"))
            return
        load_model(model, str(folder / MODEL), strict=True, device=str(_device_of(model)))
        if optimizer is not None and state is not None:
            optimizer.load_state_dict(state["optimizer"])

    # -- a finished stage
    def save_stage(self, stage: str, model: torch.nn.Module, result: dict[str, Any],
                   extra: dict[str, Any] | None = None) -> None:
        self._write(f"stage-{stage}", {"stage": stage, "result": result, **(extra or {})},
                    model, None)
        if self._main:
            self.drop_progress(stage)

    def stage_meta(self, stage: str) -> dict[str, Any] | None:
        return self._meta(self.root / f"stage-{stage}")

    def load_stage(self, stage: str, model: torch.nn.Module) -> dict[str, Any]:
        meta = self.stage_meta(stage) or {}
        self._read_weights(self.root / f"stage-{stage}", meta, model)
        return meta

    # -- inside a stage
    def save_progress(self, stage: str, model: torch.nn.Module, state: dict[str, Any],
                      extra: dict[str, Any] | None = None, optimizer=None) -> None:
        """``state``: the plain and tensor state besides the weights; ``optimizer``'s state
        is written beside it (sharded under FSDP)."""
        self._write(f"progress-{stage}", {"stage": stage, **(extra or {})}, model, state,
                    optimizer)

    def progress_meta(self, stage: str) -> dict[str, Any] | None:
        return self._meta(self.root / f"progress-{stage}")

    def load_progress(self, stage: str, model: torch.nn.Module,
                      optimizer=None) -> dict[str, Any]:
        folder = self.root / f"progress-{stage}"
        meta = self._meta(folder) or {}  # recovers a folder a kill left between renames
        state = load_state(folder)
        self._read_weights(folder, meta, model, optimizer, state)
        return state

    def drop_progress(self, stage: str) -> None:
        shutil.rmtree(self.root / f"progress-{stage}", ignore_errors=True)

    # -- a finished benchmark
    def save_scores(self, benchmark: str, scores: list[Score]) -> None:
        atomic_write_text(self.root / "eval" / f"{benchmark}.json", json.dumps(
            {"run_key": self.run_key, "format": FORMAT,
             "scores": [asdict(s) for s in scores]}, indent=2))

    def load_scores(self, benchmark: str) -> list[Score] | None:
        try:
            data = json.loads((self.root / "eval" / f"{benchmark}.json").read_text())
        except (OSError, ValueError):
            return None
        if data.get("run_key") != self.run_key or data.get("format") != FORMAT:
            return None
        return [Score(**s) for s in data["scores"]]

    def clear(self) -> None:
        """Drop the weights once the run's record is written (they can be many gigabytes)."""
        shutil.rmtree(self.root, ignore_errors=True)


def _device_of(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
