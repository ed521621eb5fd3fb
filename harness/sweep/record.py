"""The result record: what one run leaves in its folder (``record.json``), written atomically.

The run folder is the source of truth; the SQL store is an index of these records, so nothing
is lost if the database is down while jobs finish.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness.combination import COMBINE, combined_id
from harness.config import from_mapping, to_plain

SCHEMA_VERSION = 1
RECORD_FILE = "record.json"
PREDICTIONS_DIR = "predictions"
"""Per-item predictions of the sweep's own evaluation, one ``<benchmark>.jsonl`` each."""
EVAL_DIR = "eval"
"""What ``harness eval`` predicted and scored later, from the saved model."""


@dataclass(frozen=True)
class Score:
    """One number: a metric of a benchmark on a subset, on a 0-100 scale."""

    benchmark: str
    metric: str
    """e.g. ``accuracy``."""
    subset: str
    """``overall``, or a slice such as ``task:Count``, ``type:2D``, ``source:probe``."""
    value: float
    n: int
    """Items the value is computed over."""
    category: str = ""
    """Cambrian's category: General, Knowledge, OCR & Chart, Vision-Centric."""
    benchmark_version: str = ""
    prompt_hash: str = ""
    label_patch: str = ""
    dataset_hash: str = ""
    chance: float | None = None
    """What guessing scores on this subset, so a reader can tell learning from luck."""


@dataclass(frozen=True)
class EncoderInfo:
    id: str
    group: str
    supervision: str
    architecture: str
    resolution: int
    tiny: bool
    params: int = 0
    loader: str = ""
    source: str = ""
    weights: str | None = None
    distribution: str = ""
    distribution_version: str = ""
    parts: tuple[EncoderInfo, ...] = ()
    """A combination's members, in the order the connector receives them; empty for one
    encoder."""


MULTI_GROUP = "multi"
"""The group of every combination of encoders (what the dashboard compares it under)."""


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
    run_key: str
    status: Literal["done", "failed"]
    smoke: bool
    """True when the encoder had random weights (a tiny twin): never a real score."""
    encoder: EncoderInfo
    recipe: str
    llm: str
    connector: str
    seed: int
    preset: str
    config: dict[str, Any]
    scores: tuple[Score, ...] = ()
    train: dict[str, Any] = field(default_factory=dict)
    started_at: str = ""
    finished_at: str = ""
    wall_seconds: float = 0.0
    host: str = ""
    job_id: str = ""
    code_version: str = ""
    error: str | None = None
    schema: int = SCHEMA_VERSION

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


def write_record(run_dir: Path, record: ResultRecord) -> Path:
    """Write ``record.json`` so that a reader sees the old file or the new one, never half."""
    return atomic_write_text(run_dir / RECORD_FILE, record.to_json())


def read_record(run_dir_or_file: Path) -> ResultRecord:
    path = Path(run_dir_or_file)
    if path.is_dir():
        path = path / RECORD_FILE
    return ResultRecord.from_dict(json.loads(path.read_text()), where=str(path))


def atomic_write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


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
