"""Presets: the scale a sweep runs at (which encoder weights, LLM, data and how many steps).

The smoke preset runs the *same* recipes shrunk, on tiny random-weight twins and the procedural
probe, so the whole loop can be checked on a laptop CPU. Its scores are not real results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness.config import from_mapping, read_toml
from harness.data.aspect import DEFAULT_ASPECT, ImageAspect
from harness.data.probes import ProbeData
from harness.errors import HarnessError
from harness.registry import Registry


@dataclass(frozen=True)
class DataLoading:
    """How training batches are read (how a run goes, not what it measures: outside the key).
    Workers decode images in processes of their own, so a GPU does not wait for JPEGs."""

    workers: int = 0
    """DataLoader worker processes; 0 reads in the training process."""
    pin_memory: bool = False
    """Page-locked batches, for faster copies to a GPU."""
    persistent_workers: bool = False
    """Keep the workers alive between epochs of a stage."""
    prefetch_factor: int | None = None
    """Batches each worker reads ahead (PyTorch's default, 2, when unset)."""

    def __post_init__(self) -> None:
        if self.workers < 0:
            raise HarnessError(f"data_loading.workers = {self.workers}; it must be >= 0")
        if self.workers == 0 and (self.persistent_workers or self.prefetch_factor):
            raise HarnessError("data_loading: persistent_workers and prefetch_factor need "
                               "workers > 0")


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    llm: str
    data: ProbeData | None = None
    """The probes' kinds and size, for a preset that trains on the probes (``[data]``)."""
    system_prompt: str | None = None
    """Put before the first user turn, replacing the LLM's own (LLaVA's ``vicuna_v1``
    conversation for Vicuna); unset keeps the LLM's. Part of the run key, with the LLM."""
    sources: dict[str, str] = field(default_factory=dict)
    """Training data per stage, ``{align = "llava-558k", finetune = "llava-665k"}``: a
    registered data source (``harness data sources``) or a source TOML file, each read from
    the data root. Empty: the probe."""
    image_aspect: ImageAspect = DEFAULT_ASPECT
    """How a non-square image is made square: ``resize`` (squash), ``pad`` (to a square with
    the encoder's mean colour, as LLaVA-1.5 and Cambrian-1 do) or ``crop`` (centre)."""
    tiny_encoders: bool = False
    """Use each encoder's tiny random-weight twin: results are smoke results, never scores."""
    scale: Literal["full", "cpu"] = "full"
    """``cpu``: real weights trained at CPU scale (a small real LLM, hundreds of samples), so
    its results are real but not comparable with paper-scale ones; every record and leaderboard
    row says so. Outside the run key: the scale a preset claims changes no model."""
    recipes: tuple[str, ...] = ("frozen", "unfrozen")
    seeds: tuple[int, ...] = (0,)
    benchmarks: tuple[str, ...] = ("probe",)
    """Benchmarks or suites (``table5``: Cambrian's sixteen columns, ``vision-centric``,
    ``probe``), each read from ``DIR/<name>/`` under the data root (``probe`` and
    ``probe-objects`` from the run's own generated probes, which ``[data] kinds`` must
    include)."""
    micro_batch: int = 16
    eval_batch: int = 32
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per-stage overrides applied to every recipe, e.g. ``[stages.align] max_steps = 40``."""
    recipe: dict[str, Any] = field(default_factory=dict)
    """Recipe-level overrides, e.g. ``encoder_lr``."""
    feature_cache: bool = True
    """Frozen-encoder recipes read encoder features from ``<root>/cache/features`` (computed
    once, shared by recipes, seeds and LLMs); false runs the encoder on every batch."""
    distributed: Literal["auto", "ddp", "fsdp"] = "auto"
    """How a job's processes share the model: ``ddp`` (each holds all of it), ``fsdp`` (each
    holds a shard of every parameter, gradient and optimizer state: a 7B LLM's finetune fits
    only so) or ``auto`` (DDP where the memory plan says it fits the cluster profile's GPU,
    else FSDP). A cluster profile's, or an accelerate config's FSDP, replaces it. The numbers
    are the same within rounding, so not part of the key."""
    gradient_checkpointing: bool = False
    """Recompute the LLM's activations in the backward pass instead of keeping them (less
    memory, about a third more compute); the numbers are the same, so not part of the key."""
    connector: str | None = None
    """The connector of every run, options allowed (``"sva(grid=12)"``); unset: ``mlp2x_gelu``
    for one encoder, ``sva`` for a combination. ``--connector`` replaces it, and with it
    ``connector_args``."""
    connector_args: dict[str, Any] = field(default_factory=dict)
    """Hyperparameters of the preset's connector (``[connector_args]`` with ``grid = 12``);
    ``--connector-args`` adds to them."""
    connector_defaults: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Options a connector gets whenever a run of this preset uses it and does not set them
    (``[connector_defaults.sva]`` with ``hidden = 64``): how a tiny preset shrinks a
    connector whose defaults are a paper's full size."""
    blind_eval: bool = False
    """Also score every benchmark with no image (blind mode, metrics ``<metric>_blind``): the
    Benchmarks page then shows how much each one needs vision. Outside the run key (the model
    and its with-image scores are the same); runs finished without it get blind scores from
    ``harness eval --blind --db``."""
    data_loading: DataLoading = field(default_factory=DataLoading)
    """DataLoader workers and pinned memory (``[data_loading]``); a cluster profile's
    ``[data_loading]`` replaces it for the runs it submits."""
    save_model: Literal["all", "trainable", "none"] = "trainable"
    """What a finished run keeps in ``<run>/model/``: ``trainable`` the parts its recipe
    trained (connector, LLM, an unfrozen encoder; a frozen encoder is rebuilt from its
    registered weights), ``all`` every part too (small models), ``none`` nothing."""


    def __post_init__(self) -> None:
        if (self.data is None) == (not self.sources):
            raise HarnessError(f"preset {self.name!r}: give either [data] (the probe's size) "
                               "or [sources] (training data per stage), not both or neither")
        unknown = sorted(set(self.sources) - {"align", "finetune"})
        if unknown:
            raise HarnessError(f"preset {self.name!r}: [sources] has stage {unknown[0]!r}; "
                               "valid: align, finetune")


def load_preset_file(path: str | Path) -> Preset:
    path = Path(path)
    return from_mapping(Preset, read_toml(path), where=str(path))


PRESETS: Registry[Preset] = Registry(
    "preset", "harness.presets", name_of=lambda p: p.name, item_type=Preset
)
