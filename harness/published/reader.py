"""Read a table of published scores (the ``cambrian1.csv`` format) into checked rows.

A malformed row is an error naming the file, the line and the field, so a user's own table is
fixed in one look rather than half-imported.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from harness.errors import HarnessError
from harness.eval.categories import categories, category_of
from harness.published.names import encoder_id_for, ensemble_id_for
from harness.record import GROUPS

BUILTIN: dict[str, tuple[str, str]] = {
    "cambrian-1": ("cambrian1.csv", "Cambrian-1 (Tong et al., 2024)"),
    "llava-1.5": ("llava15.csv", "LLaVA-1.5 (Liu et al., 2024)"),
}
"""Tables that ship with the package: name -> (file, paper)."""

REQUIRED = ("source", "subject", "kind", "metric", "value")
OPTIONAL = ("group", "supervision", "encoder_id", "paper", "connector")
KINDS = ("encoder", "encoder ensemble", "model")
ENSEMBLE_GROUP = "ensemble"
PUBLISHED_GROUPS = ("", *GROUPS, ENSEMBLE_GROUP)
"""A published subject's group: an encoder family, an ensemble, or none (a whole model)."""
OVERALL = "Average"
_CATEGORY_AVERAGE = re.compile(r"^(?P<category>.+?) \(category average\)$")
_LIMITS = {"source": 500, "subject": 200, "metric": 100, "group": 50, "supervision": 50,
           "encoder_id": 200, "paper": 200, "connector": 100}


@dataclass(frozen=True)
class PublishedRow:
    line: int
    source: str
    subject: str
    kind: str
    group: str
    supervision: str
    metric: str
    level: str
    """``benchmark``, ``category`` (a category average) or ``average`` (over all benchmarks)."""
    category: str
    value: float
    encoder_id: str | None
    paper: str
    connector: str = ""
    """The connector this harness runs the paper's setting with (Table 2: ``concat(grid=24)``);
    a measured setting is set beside the number only under that connector."""


def builtin_path(name: str) -> Path:
    if name not in BUILTIN:
        raise HarnessError(f"unknown published table {name!r}; built in: {', '.join(BUILTIN)}")
    return Path(str(files("harness.published") / BUILTIN[name][0]))


def read_builtin(name: str) -> list[PublishedRow]:
    """A table that ships with the package, credited to its paper."""
    return read_published(builtin_path(name), paper=BUILTIN[name][1])


def classify(metric: str) -> tuple[str, str]:
    """(level, category) of a published metric name."""
    if category_of(metric) is not None:
        return "benchmark", category_of(metric)
    match = _CATEGORY_AVERAGE.match(metric)
    name = match.group("category") if match else metric
    if name in categories():
        return "category", name
    if metric == OVERALL:
        return "average", ""
    return "benchmark", ""  # a benchmark outside Cambrian's sixteen: kept, uncategorised


def read_published(path: Path, paper: str = "") -> list[PublishedRow]:
    """Every row of ``path``, checked; raises HarnessError at the first bad line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise HarnessError(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise HarnessError(f"{path}: cannot read as UTF-8 text: {exc}") from None
    reader = csv.DictReader(text.splitlines(keepends=True))
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise HarnessError(
            f"{path}:1: missing column {missing[0]!r}; a published table has columns "
            f"{', '.join(REQUIRED)} (and optionally {', '.join(OPTIONAL)})"
        )
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
    if unknown:
        raise HarnessError(
            f"{path}:1: unknown column {unknown[0]!r}; valid: {', '.join(REQUIRED + OPTIONAL)}"
        )
    rows: list[PublishedRow] = []
    seen: dict[tuple[str, str, str], int] = {}
    for record in reader:
        line = reader.line_num
        row = _row(path, line, record, paper)
        key = (row.source, row.subject, row.metric)
        if key in seen:
            raise HarnessError(
                f"{path}:{line}: field 'metric': {row.subject!r} / {row.metric!r} under this "
                f"source already appears on line {seen[key]}"
            )
        seen[key] = line
        rows.append(row)
    if not rows:
        raise HarnessError(f"{path}: no rows under the header")
    return rows


def _row(path: Path, line: int, record: dict[str, str | None], paper: str) -> PublishedRow:
    def bad(field: str, why: str) -> HarnessError:
        return HarnessError(f"{path}:{line}: field {field!r}: {why}")

    if None in record:  # csv puts surplus cells under the key None
        raise bad("(end of row)", f"more cells than the {len(record) - 1} columns of the header")
    values: dict[str, str] = {}
    for field, raw in record.items():
        if raw is None:
            raise bad(str(field), "missing (the row has fewer cells than the header)")
        values[str(field)] = raw.strip()
    for field in REQUIRED:
        if not values[field]:
            raise bad(field, "empty")
    for field, limit in _LIMITS.items():
        if len(values.get(field, "")) > limit:
            raise bad(field, f"longer than {limit} characters")
    kind = values["kind"]
    if kind not in KINDS:
        raise bad("kind", f"{kind!r} is not one of: {', '.join(KINDS)}")
    group = values.get("group", "")
    if group not in PUBLISHED_GROUPS:
        valid = ", ".join(g or "(empty)" for g in PUBLISHED_GROUPS)
        raise bad("group", f"{group!r} is not one of: {valid}")
    try:
        value = float(values["value"])
    except ValueError:
        raise bad("value", f"{values['value']!r} is not a number") from None
    if not math.isfinite(value):
        raise bad("value", f"{values['value']!r} is not a finite number")
    level, category = classify(values["metric"])
    link = {"encoder": encoder_id_for, "encoder ensemble": ensemble_id_for}.get(kind)
    encoder_id = values.get("encoder_id") or (link(values["subject"]) if link else None)
    return PublishedRow(
        line=line,
        source=values["source"],
        subject=values["subject"],
        kind=kind,
        group=group,
        supervision=values.get("supervision", ""),
        metric=values["metric"],
        level=level,
        category=category,
        value=value,
        encoder_id=encoder_id or None,
        paper=values.get("paper") or paper,
        connector=values.get("connector", ""),
    )
