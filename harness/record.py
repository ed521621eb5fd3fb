"""The result contract, at the bottom of ``harness``: what one run leaves in its folder
(``record.json``, written atomically), the scores in it, and what each field means.

Everything above derives from these declarations: the store's columns, ingest, queries and the
API's schemas read the fields (and their ``Stored`` notes) from the dataclasses, so adding a
field means adding it here and one Alembic migration for its column, nothing else.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from harness.combination import COMBINE, combined_id
from harness.config import from_mapping, to_plain

SCHEMA_VERSION = 1
RECORD_FILE = "record.json"
PREDICTIONS_DIR = "predictions"
"""Per-item predictions of the sweep's own evaluation, one ``<benchmark>.jsonl`` each."""
EVAL_DIR = "eval"
"""What ``harness eval`` predicted and scored later, from the saved model."""
SCORES_FILE = "scores.json"
"""Under ``EVAL_DIR``: every score ``harness eval`` computed for the run, the latest per
benchmark, metric, subset and dataset."""

Group = Literal["clip", "ssl", "convnext", "other"]
GROUPS: tuple[str, ...] = get_args(Group)
"""The encoder families the dashboard compares, in its order."""
MULTI_GROUP = "multi"
"""The group of every combination of encoders (what the dashboard compares it under)."""

ScoreKind = Literal["measured", "published", "external", "proxy"]
SCORE_KINDS: tuple[str, ...] = get_args(ScoreKind)
MEASURED: ScoreKind = "measured"
"""What this harness measured itself: the only kind a setting's averages and ranks use."""
HARNESS_SCORER = "harness"


# -- how a field is kept -----------------------------------------------------------------------

STORED = "harness.stored"


@dataclass(frozen=True)
class Stored:
    """How one record field is kept in the store and described by the API."""

    doc: str = ""
    length: int | None = None
    """Longest text the column holds; None for unbounded text."""
    big: bool = False
    """A 64-bit integer column (parameter counts pass 2**31)."""
    time: bool = False
    """ISO 8601 text in the record, a naive-UTC timestamp in SQL."""
    index: bool = False
    nullable: bool | None = None
    """Overrides what the type says (columns that predate the contract)."""
    server_default: str | None = None
    """What rows that existed before the column was added hold."""
    column: bool = True
    """False: kept in the record file only (nested, or not a column of its own)."""


def declared(default: Any = dataclasses.MISSING, *, default_factory: Any = dataclasses.MISSING,
             **stored: Any) -> Any:
    """A dataclass field with its ``Stored`` note."""
    return field(default=default, default_factory=default_factory,
                 metadata={STORED: Stored(**stored)})


def stored(f: dataclasses.Field) -> Stored:
    return f.metadata.get(STORED) or Stored()


def columns_of(cls: type) -> Iterator[dataclasses.Field]:
    """The fields of ``cls`` that are store columns, in declaration order."""
    return (f for f in dataclasses.fields(cls) if stored(f).column)


# -- the contract ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    """One number: a metric of a benchmark on a subset, with what makes it comparable."""

    benchmark: str = declared(doc="The benchmark's registry name.", length=100)
    metric: str = declared(
        doc="e.g. ``accuracy``; ``<metric>_blind`` is the same metric with no image.",
        length=100)
    subset: str = declared(
        doc="``overall``, or a slice such as ``task:Count``, ``cvbench:2D``, ``source:probe``.",
        length=200)
    value: float = declared(doc="On the metric's range: 0-100 for most, points for MME.")
    n: int = declared(doc="Items the value is computed over.")
    category: str = declared(
        "", length=50,
        doc="Cambrian's category: General, Knowledge, OCR & Chart, Vision-Centric.")
    benchmark_version: str = declared("", length=50)
    prompt_hash: str = declared("", length=64)
    label_patch: str = declared("", length=100,
                                doc="``name@hash`` of the label corrections applied, or empty.")
    dataset_hash: str = declared("", length=64)
    chance: float | None = declared(
        None, doc="What guessing scores on this subset, so a reader can tell learning from luck.")
    kind: ScoreKind = declared(
        MEASURED, length=20, server_default=MEASURED,
        doc="measured (this harness ran the model), published (a paper's number), external "
            "(another evaluator scored it) or proxy (a cheap stand-in for the full study).")
    scorer: str = declared(
        HARNESS_SCORER, length=100, server_default=HARNESS_SCORER,
        doc="Who computed the value: ``harness``, or an external evaluator and its version "
            "(``lmms-eval 0.3.0``).")
    ci_low: float | None = declared(
        None, doc="Lower end of the 95% confidence interval; empty where not yet measured.")
    ci_high: float | None = declared(
        None, doc="Upper end of the 95% confidence interval; empty where not yet measured.")
    ci_resamples: int | None = declared(
        None, doc="Bootstrap resamples the interval was drawn from.")
    ci_seed: int | None = declared(None, doc="Seed of those resamples (the interval repeats).")
    range_min: float | None = declared(
        None, doc="The least value the metric can take (its declaration); empty if undeclared.")
    range_max: float | None = declared(
        None, doc="The most value the metric can take: 100 for most, MME's points for MME.")

    def problem(self) -> str | None:
        """Why this score cannot be stored, in one line, or None."""
        name = f"{self.benchmark}/{self.metric}/{self.subset}"
        for attr in ("value", "chance", "ci_low", "ci_high", "range_min", "range_max"):
            number = getattr(self, attr)
            if number is not None and not math.isfinite(number):
                return f"score {name} has {attr} {number}; scores must be finite numbers"
        if self.kind not in SCORE_KINDS:
            return f"score {name} has kind {self.kind!r}; valid: {', '.join(SCORE_KINDS)}"
        low = -math.inf if self.range_min is None else self.range_min
        high = math.inf if self.range_max is None else self.range_max
        if low > high:
            return f"score {name} has range {low:g}..{high:g}, which is empty"
        if not low <= self.value <= high:
            return f"score {name} = {self.value:g} is outside its metric's range {low:g}..{high:g}"
        if (self.ci_low is None) != (self.ci_high is None):
            return f"score {name} has one end of its confidence interval; give both or neither"
        if self.ci_low is not None and not self.ci_low <= self.ci_high:
            return f"score {name} has confidence interval {self.ci_low:g}..{self.ci_high:g}"
        return None


@dataclass(frozen=True)
class EncoderInfo:
    """An encoder as the store and the dashboard know it."""

    id: str = declared(length=200, doc="Architecture and weights, e.g. "
                                       "``clip-vit-l14-336.openai``; ``a+b`` for a combination.")
    group: str = declared(length=50, doc="Dashboard family: clip, ssl, convnext, other or multi.")
    supervision: str = declared(length=50)
    architecture: str = declared(length=50)
    resolution: int = declared()
    tiny: bool = declared(column=False, doc="A random-weight tiny twin (kept per run).")
    params: int = declared(0, big=True)
    loader: str = declared("", length=100)
    source: str = declared("", length=500, doc="Where the weights come from (a hub id, a file).")
    weights: str | None = declared(None, length=500)
    distribution: str = declared("", length=200,
                                 doc="The installed distribution (plugin) that registered it.")
    distribution_version: str = declared("", length=50)
    parts: tuple[EncoderInfo, ...] = declared(
        (), column=False,
        doc="A combination's members, in the order the connector receives them; empty for "
            "one encoder.")


def combine_infos(parts: Sequence[EncoderInfo]) -> EncoderInfo:
    """One entry for a combination: id ``a+b``, group ``multi``, the members' distinct
    supervisions and architectures joined with ``+``, the largest input resolution, and the
    members themselves in ``parts``."""

    def joined(values) -> str:
        return COMBINE.join(dict.fromkeys(v for v in values if v))

    weights = [p.weights for p in parts]
    return EncoderInfo(
        id=combined_id(p.id for p in parts), group=MULTI_GROUP,
        supervision=joined(p.supervision for p in parts),
        architecture=joined(p.architecture for p in parts),
        resolution=max(p.resolution for p in parts), tiny=any(p.tiny for p in parts),
        params=sum(p.params for p in parts), loader=joined(p.loader for p in parts),
        source=COMBINE.join(p.source for p in parts),
        weights=None if all(w is None for w in weights) else COMBINE.join(w or "" for w in weights),
        distribution=joined(p.distribution for p in parts),
        distribution_version=joined(p.distribution_version for p in parts),
        parts=tuple(parts),
    )


@dataclass(frozen=True)
class ResultRecord:
    """What one run leaves behind: its identity, how it went, and its scores."""

    run_key: str = declared(length=64, doc="Hash of the fully resolved config: the run's "
                                           "identity.")
    status: Literal["done", "failed"] = declared(length=20, index=True)
    smoke: bool = declared(index=True, doc="True when the encoder had random weights (a tiny "
                                           "twin): never a real score.")
    encoder: EncoderInfo = declared(column=False, doc="Stored as ``encoder_id`` and a row of "
                                                      "its own.")
    recipe: str = declared(length=100)
    llm: str = declared(length=200)
    connector: str = declared(length=100)
    seed: int = declared()
    preset: str = declared(length=100)
    config: dict[str, Any] = declared(doc="The fully resolved config.")
    scores: tuple[Score, ...] = declared((), column=False)
    train: dict[str, Any] = declared(default_factory=dict, nullable=True,
                                     doc="Per-stage training statistics (steps, losses, "
                                         "seconds), and ``phases``: the run's seconds per "
                                         "phase (``harness.phases``).")
    started_at: str = declared("", time=True)
    finished_at: str = declared("", time=True)
    wall_seconds: float = declared(0.0)
    host: str = declared("", length=200)
    job_id: str = declared("", length=100)
    code_version: str = declared("", length=100)
    scale: str = declared("full", length=20, server_default="full",
                          doc="``cpu`` for real weights trained at CPU scale (the preset says "
                              "so): real results, not comparable with paper-scale ones.")
    error: str | None = declared(None)
    schema: int = declared(SCHEMA_VERSION, column=False)

    def to_json(self) -> str:
        data = to_plain(self)
        if not data["encoder"]["parts"]:
            # A single encoder's record stays byte for byte what it was before combinations
            # existed, so re-ingesting old records finds them unchanged.
            del data["encoder"]["parts"]
        return json.dumps(data, indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "record") -> ResultRecord:
        return from_mapping(cls, data, where)


# -- writing and reading -----------------------------------------------------------------------


def write_record(run_dir: Path, record: ResultRecord) -> Path:
    """Write ``record.json`` so that a reader sees the old file or the new one, never half."""
    return atomic_write_text(run_dir / RECORD_FILE, record.to_json())


def read_record(run_dir_or_file: Path) -> ResultRecord:
    path = Path(run_dir_or_file)
    if path.is_dir():
        path = path / RECORD_FILE
    return ResultRecord.from_dict(json.loads(path.read_text()), where=str(path))


def read_eval_scores(run_dir: Path,
                     read: Callable[[Path], bytes] = Path.read_bytes) -> list[Score]:
    """What ``harness eval`` kept in the run's ``eval/scores.json``; [] when there is none or
    it cannot be read (it is a cache of ``harness eval``'s results, rebuilt as it runs).
    ``read``: how the file is read (a reader of untrusted folders bounds it)."""
    try:
        return [Score(**s) for s in json.loads(
            read(Path(run_dir) / EVAL_DIR / SCORES_FILE))["scores"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode())


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write through a synced temporary file and a rename: a reader sees the old file or the
    new one, never a torn one. The file gets the mode any new file would (0644 under umask
    022), not the temporary file's owner-only 0600: a dashboard or ingest running as another
    user of a shared cluster must read it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.fchmod(fd, 0o666 & ~current_umask())
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def with_umask_mode(path: Path) -> Path:
    """Give ``path`` the mode a new file gets under the umask: writers that make their file
    owner-only (safetensors does, like a temporary file) would hide it from another user's
    dashboard or ingest."""
    os.chmod(path, 0o666 & ~current_umask())
    return Path(path)


def current_umask() -> int:
    """The process's umask, read without changing it (Linux names it in /proc); elsewhere
    set and restored at once."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def replace_folder(tmp: Path, final: Path) -> Path:
    """Put the finished folder ``tmp`` in the place of ``final`` by renames (the old one moved
    aside first, then removed), so a reader finds the old folder or the new one, never half of
    either; a crash in between leaves ``.<name>.old`` beside it."""
    old = final.with_name(f".{final.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    return final
