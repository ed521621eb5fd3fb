"""Response models of the JSON API; their docstrings and field docs become the OpenAPI schema.

Models of what the store holds (encoders, runs, scores, leaderboard rows) are built from the
store's columns, which come from the result contract: a field added there appears here too."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, create_model

from harness.eval.protocols import Protocol
from harness.store import queries
from harness.store.models import RUN_COLUMN_NAMES, EncoderRow, RunRow, ScoreRow

T = TypeVar("T")


class Model(BaseModel):
    # Attribute docstrings become field descriptions in the OpenAPI schema at /docs.
    model_config = ConfigDict(use_attribute_docstrings=True)


def from_columns(name: str, columns: dict[str, Any], doc: str,
                 base: type[Model] = Model) -> type[Model]:
    """A response model with one field per store column (named by the keys), typed and
    described as the column is, so the contract's fields reach the API without a copy."""
    fields: dict[str, Any] = {}
    for field_name, column in columns.items():
        column = column.__clause_element__() if hasattr(column, "__clause_element__") else column
        column = getattr(column, "element", column)  # a label's column
        python: Any = column.type.python_type
        if python is datetime:
            python = str  # ISO 8601, as the queries hand times out
        elif python is dict:
            python = dict[str, Any]
        if column.nullable:
            python = python | None
        fields[field_name] = (python, Field(description=column.doc))
    return create_model(name, __base__=base, __doc__=doc or None, **fields)


class Page(Model, Generic[T]):
    items: list[T]
    total: int
    """Matches before paging."""
    limit: int
    offset: int


EncoderSpec = from_columns(
    "EncoderSpec", {name: getattr(EncoderRow, name) for name in queries.ENCODER_FIELDS},
    "An encoder (or combination) as the store knows it.")


class Encoder(EncoderSpec):
    runs: int
    """Runs of this encoder in the store."""


def _run_columns(names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(RunRow, RUN_COLUMN_NAMES.get(name, name)) for name in names}


Run = from_columns("Run", _run_columns(queries.RUN_FIELDS), "One run's summary.")
ScoreFields = from_columns(
    "ScoreFields", {name: getattr(ScoreRow, name) for name in queries.SCORE_FIELDS},
    "One score of a run, with what makes it comparable.")
Score = from_columns("Score", {c.key: c for c in queries.SCORE_COLUMNS},
                     "One score, with the run it belongs to.")


class PredictionFile(Model):
    benchmark: str
    path: str
    """Relative to the run folder."""
    items: int
    sha256: str


class RunDetail(from_columns("RunDetailFields", _run_columns(queries.RUN_DETAIL_FIELDS),
                             "", base=Run)):
    """One run with its config, training statistics, encoder, scores and prediction files."""

    encoder: EncoderSpec | None
    scores: list[ScoreFields]
    prediction_files: list[PredictionFile]


class Predictions(Model):
    run_key: str
    benchmark: str
    total: int
    items: list[dict[str, Any]]


class ProtocolReading(Model):
    value: float | None
    """The benchmark's headline metric under this protocol; null when not applicable."""
    n: int
    """Units the metric counted (items, pairs, groups)."""
    note: str
    """Why there is no value, or what a partial value covers."""


class ProtocolSensitivity(Model):
    """One benchmark's headline under each scoring protocol, with or without the image."""

    benchmark: str
    blind: bool
    metric: str
    readings: dict[Protocol, ProtocolReading]
    """``strict``: only an answer that is exactly one capital option letter counts; ``rule``:
    the project's answer reading; ``loglik``: the likeliest option, where that was run."""
    spread: float | None
    """Largest minus smallest applicable value; null with fewer than two."""


class RunProtocols(Model):
    """How much a run's numbers depend on the scoring protocol, from its stored predictions."""

    run_key: str
    scorer: str
    """The reading rule's version on this server."""
    benchmarks: list[ProtocolSensitivity]
    skipped: list[str]
    """Prediction files or benchmarks left out, each with why."""


LeaderboardRow = from_columns(
    "LeaderboardRow", {c.key: c for c in queries.LEADERBOARD_COLUMNS},
    "One score of a finished run, with its encoder and setting.")


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
    intervals: dict[str, list[float]] = {}
    """Column -> [low, high]: the 95% interval over seeds and questions (a two-stage
    bootstrap), where the runs kept their draws."""
    within_noise_above: dict[str, bool] = {}
    """Column -> whether the gap to the setting ranked just above on that column is within
    noise (true) or not (false); absent for the top one and where no draws were kept."""


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
    connector: str = ""
    """The connector this harness runs the paper's setting with, when the source says."""
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
    column: str
    """What is compared: a category average, or a Table 5 benchmark column (``GQA``)."""
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
    """How many of the category's columns the measured average covers (1 for a column)."""
    complete: bool
    difference: float | None
    """measured minus published, once the measured category covers all four benchmarks."""


class IngestResult(Model):
    run_key: str
    outcome: Literal["added", "updated", "unchanged"]


class CompareSide(Model):
    label: str
    """The setting (encoder · recipe · LLM · connector · preset, with its seeds) or run."""
    runs: list[str]


class Difference(Model):
    column: str
    """A benchmark (its headline metric) or a category average."""
    a: float
    b: float
    difference: float
    """A minus B."""
    low: float | None
    high: float | None
    """The 95% interval of the difference over seeds and questions; null where either side
    kept no bootstrap draws."""
    paired: bool
    """Both sides were scored on the same questions, resampled together."""
    within_noise: bool | None
    """The interval holds 0."""


class SeedPlan(Model):
    column: str
    gap: float
    seeds: int | None
    """Seeds per side to detect ``gap`` points at alpha 0.05 and power 0.8; null where no
    number is enough or the spread could not be measured (``note`` says which)."""
    unit_sd: float
    """Standard deviation of the difference from the questions alone."""
    seed_sd_a: float | None
    seed_sd_b: float | None
    note: str


class CompareResult(Model):
    a: CompareSide
    b: CompareSide
    differences: list[Difference]
    plans: list[SeedPlan] | None = None


# -- triage: proxy scores and how well they predicted the measured ones ------------------------


class TriagePoint(Model):
    """One encoder in a correlation: its proxy score beside its measured one."""

    encoder_id: str
    proxy: float
    """The proxy's overall score."""
    proxy_ci: tuple[float, float] | None
    """Its 95% bootstrap interval over the proxy's units; null where none was kept."""
    measured: float
    """The measured target's value (seeds averaged), or the published one."""


class TriageCorrelation(Model):
    """How well one proxy ranked the encoders as one measured target ranks them."""

    proxy: str
    source: str
    """``<recipe> / <llm>`` of the measured runs (``(twins)`` when the encoders had random
    weights), or ``published: Cambrian-1 Figure 4``."""
    target: str
    """A benchmark and its metric (``probe accuracy``), a category, or ``Average``."""
    level: Literal["benchmark", "category", "average"]
    smoke: bool
    """Tiny random-weight twins (checked against twins only)."""
    n: int
    """Encoders with both a proxy score and a measured one."""
    spearman: float | None
    spearman_ci: tuple[float, float] | None
    """95% bootstrap interval over encoders."""
    kendall: float | None
    """Kendall's tau-b."""
    kendall_ci: tuple[float, float] | None
    reason: str | None
    """Why there is no correlation (too few encoders, no spread); null when there is one."""
    points: list[TriagePoint]


class TriageCorrelations(Model):
    min_encoders: int
    """The fewest encoders a rank correlation is given for."""
    smoke: bool
    correlations: list[TriageCorrelation]


class ProxyScore(Model):
    encoder_id: str
    name: str
    """How people name the encoder (the paper's name), else its id."""
    value: float
    """The proxy's newest overall score for this encoder."""
    ci: tuple[float, float] | None
    """Its 95% bootstrap interval; null where none was kept."""
    run_key: str
    """The triage record it comes from."""


class ProxyScores(Model):
    proxy: str
    metric: str
    scores: list[ProxyScore]
    """Best first."""


class TriageProxies(Model):
    smoke: bool
    proxies: list[ProxyScores]


class RecommendedEncoder(Model):
    encoder_id: str
    value: float
    """The ranking proxy's overall score."""
    ci: tuple[float, float] | None


class TriageRecommendation(Model):
    """The encoders worth a full sweep, best first, and why this proxy ranks them."""

    proxy: str
    encoders: list[RecommendedEncoder]
    candidates: int
    """Encoders with a score of this proxy."""
    basis: TriageCorrelation | None
    """The correlation with a measured average that chose the proxy; null while none has been
    checked (the attentive probe ranks them, unchecked)."""
    explanation: str
    notes: list[str]
