"""Response models of the JSON API; their docstrings and field docs become the OpenAPI schema."""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")


class Model(BaseModel):
    # Attribute docstrings become field descriptions in the OpenAPI schema at /docs.
    model_config = ConfigDict(use_attribute_docstrings=True)


class Page(Model, Generic[T]):
    items: list[T]
    total: int
    """Matches before paging."""
    limit: int
    offset: int


class EncoderSpec(Model):
    id: str
    group: str
    """Dashboard family: clip, ssl, convnext or other."""
    supervision: str
    architecture: str
    resolution: int
    params: int
    loader: str
    source: str
    """Where the weights come from (a hub id, a file)."""
    weights: str | None
    distribution: str
    """The installed distribution (plugin) that registered it."""
    distribution_version: str


class Encoder(EncoderSpec):
    runs: int
    """Runs of this encoder in the store."""


class Run(Model):
    run_key: str
    """Hash of the fully resolved config: the run's identity."""
    encoder_id: str
    tiny: bool
    smoke: bool
    """True for a random-weight tiny twin: never a real score."""
    recipe: str
    llm: str
    connector: str
    seed: int
    preset: str
    status: str
    started_at: str | None
    finished_at: str | None
    wall_seconds: float
    host: str
    job_id: str
    code_version: str
    error: str | None
    ingested_at: str | None


class ScoreFields(Model):
    benchmark: str
    category: str
    metric: str
    subset: str
    """``overall`` or a slice such as ``task:Count``."""
    value: float
    """0-100."""
    n: int
    """Items the value is computed over."""
    chance: float | None
    benchmark_version: str
    prompt_hash: str
    label_patch: str
    dataset_hash: str


class Score(ScoreFields):
    run_key: str
    encoder_id: str
    group: str
    recipe: str
    llm: str
    connector: str
    seed: int
    smoke: bool


class PredictionFile(Model):
    benchmark: str
    path: str
    """Relative to the run folder."""
    items: int
    sha256: str


class RunDetail(Run):
    config: dict[str, Any]
    config_hash: str
    """Hash of ``config`` as stored; equals ``run_key`` for an unaltered record."""
    train: dict[str, Any]
    run_dir: str
    record_hash: str
    encoder: EncoderSpec | None
    scores: list[ScoreFields]
    prediction_files: list[PredictionFile]


class Predictions(Model):
    run_key: str
    benchmark: str
    total: int
    items: list[dict[str, Any]]


class LeaderboardRow(Model):
    encoder_id: str
    group: str
    supervision: str
    architecture: str
    tiny: bool
    smoke: bool
    """True for a random-weight tiny twin: never a real score."""
    recipe: str
    llm: str
    connector: str
    seed: int
    benchmark: str
    category: str
    metric: str
    subset: str
    value: float
    n: int
    chance: float | None
    run_key: str


class Leaderboard(Model):
    rows: list[LeaderboardRow]
    smoke_rows: int
    """How many of ``rows`` are random-weight smoke results."""


class TableRow(Model):
    model_config = ConfigDict(extra="allow", use_attribute_docstrings=True)

    values: dict[str, float | None]
    """Column -> value (mean over seeds; for ``group``, mean over the group's encoders)."""
    counts: dict[str, int]
    """For categories: how many of its benchmarks were measured (the paper uses four); for
    benchmarks: how many seeds."""
    kind: Literal["measured", "published"] = "measured"
    source: str | None = None
    """For a published row: the figure or table it comes from."""


class Table(Model):
    axis: str
    columns: list[str]
    column: str | None
    """For ``recipe``: the benchmark or category shown in every recipe column."""
    rows: list[TableRow]
    total: int
    smoke_rows: int


class Comparison(Model):
    model_config = ConfigDict(extra="allow", use_attribute_docstrings=True)

    encoder_id: str
    group: str
    llm: str
    connector: str
    preset: str
    smoke: bool
    base_recipes: list[str]
    changed_recipes: list[str]
    base: dict[str, float]
    changed: dict[str, float]
    deltas: dict[str, float]
    """changed minus base, per benchmark and category."""


class Published(Model):
    collection: str
    paper: str
    source: str
    subject: str
    subject_kind: str
    encoder_id: str | None
    """The registry id this subject corresponds to, when known."""
    group: str
    supervision: str
    metric: str
    level: str
    category: str
    value: float
    imported_at: str | None


class Beside(Model):
    encoder_id: str
    subject: str
    source: str
    category: str
    published: float
    recipe: str
    llm: str
    connector: str
    preset: str
    smoke: bool
    seeds: int
    measured: float
    benchmarks: int
    complete: bool
    difference: float | None
    """measured minus published, once the measured category covers all four benchmarks."""


class IngestResult(Model):
    run_key: str
    outcome: Literal["added", "updated", "unchanged"]
