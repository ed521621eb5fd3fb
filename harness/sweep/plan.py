"""Planning: a sweep (encoders x recipes x seeds under a preset) becomes runs whose identity is
the hash of their fully resolved config, so planning twice schedules nothing new."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from harness.config import from_mapping, stable_hash, to_plain
from harness.encoder import ENCODERS
from harness.errors import HarnessError
from harness.eval.benchmarks import BENCHMARKS
from harness.model.connectors import CONNECTORS
from harness.model.llm import LLMSpec, resolve_llm
from harness.preset import Preset, ProbeData
from harness.recipe import Recipe
from harness.sweep.record import RECORD_FILE

RunState = Literal["new", "done", "failed"]


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides a run's numbers, and nothing that does not."""

    encoder: dict[str, Any]
    recipe: Recipe
    llm: LLMSpec
    connector: str
    data: ProbeData
    seed: int
    benchmarks: tuple[dict[str, str], ...]

    @property
    def key(self) -> str:
        return stable_hash(self)


@dataclass(frozen=True)
class Run:
    """A planned run: its config plus how and where to run it (not part of its identity)."""

    key: str
    config: RunConfig
    encoder_id: str
    tiny: bool
    preset: str
    micro_batch: int
    eval_batch: int
    data_dir: str
    run_dir: str
    state: RunState
    feature_cache: str = ""
    """Folder of the frozen-encoder feature cache (``harness.data.feature_cache``); empty:
    off. Not part of the key: cached features are the ones the encoder would compute."""
    save_model: str = "trainable"
    """What of the finished model the job keeps in ``run_dir/model/`` (see the preset's)."""

    @property
    def label(self) -> str:
        twin = " (tiny twin)" if self.tiny else ""
        return f"{self.encoder_id}{twin} / {self.config.recipe.name} / seed {self.config.seed}"

    def summary(self) -> dict[str, Any]:
        return {"key": self.key, "encoder": self.encoder_id, "tiny": self.tiny,
                "recipe": self.config.recipe.name, "seed": self.config.seed,
                "preset": self.preset, "state": self.state, "run_dir": self.run_dir}


def data_dir_for(root: Path, data: ProbeData) -> Path:
    return root / "data" / f"probe-{stable_hash(data)}"


def run_state(run_dir: Path) -> RunState:
    """What the run folder says: its record is the source of truth, not the database."""
    record = run_dir / RECORD_FILE
    if not record.exists():
        return "new"
    try:
        return "done" if json.loads(record.read_text()).get("status") == "done" else "failed"
    except (OSError, ValueError):
        return "failed"


def plan_sweep(encoder_ids: list[str], recipes: list[Recipe], preset: Preset,
               seeds: list[int], root: Path, *, connector: str = "mlp2x_gelu") -> list[Run]:
    llm = resolve_llm(preset.llm)
    CONNECTORS.get(connector)
    benchmarks = tuple(BENCHMARKS.get(b).fingerprint() for b in preset.benchmarks)
    data_dir = data_dir_for(root, preset.data)
    runs = []
    for encoder_id in encoder_ids:
        spec = ENCODERS.get(encoder_id)
        for recipe in recipes:
            shrunk = recipe.shrunk(preset.stages, preset.recipe)
            for seed in seeds:
                config = RunConfig(
                    encoder=spec.fingerprint(tiny=preset.tiny_encoders), recipe=shrunk,
                    llm=llm, connector=connector, data=preset.data, seed=seed,
                    benchmarks=benchmarks,
                )
                run_dir = root / "runs" / config.key
                runs.append(Run(
                    key=config.key, config=config, encoder_id=encoder_id,
                    tiny=preset.tiny_encoders, preset=preset.name,
                    micro_batch=preset.micro_batch, eval_batch=preset.eval_batch,
                    data_dir=str(data_dir), run_dir=str(run_dir), state=run_state(run_dir),
                    feature_cache=str(root / "cache" / "features") if preset.feature_cache
                    else "",
                    save_model=preset.save_model,
                ))
    return runs


RUN_FILE = "run.json"


def write_config(run: Run) -> None:
    """``config.json`` (what the run measures) and ``run.json`` (how it runs), so that any
    process (``harness status``, ``harness cancel``, a new driver) can rebuild the run."""
    folder = Path(run.run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"key": run.key, **to_plain(run.config)},
                                                   indent=2, sort_keys=True))
    how = {k: v for k, v in to_plain(run).items() if k not in ("config", "state")}
    (folder / RUN_FILE).write_text(json.dumps(how, indent=2, sort_keys=True))


def load_run(run_dir: Path) -> Run:
    """The run a sweep planned into ``run_dir`` (see ``write_config``)."""
    folder = Path(run_dir)
    try:
        config = json.loads((folder / "config.json").read_text())
        how = json.loads((folder / RUN_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise HarnessError(f"{folder} is not a planned run folder: {exc}") from None
    config.pop("key", None)
    run_config = from_mapping(RunConfig, config, where=str(folder / "config.json"))
    return Run(config=run_config, state=run_state(folder), **how)
