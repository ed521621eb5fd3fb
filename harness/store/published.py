"""Load published reference scores into their own table, idempotently, and set them beside the
measured settings of the same encoder (the paper's number, yours, and the difference)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError

from harness.eval.categories import category_of
from harness.published.reader import PublishedRow
from harness.store.models import PublishedScoreRow
from harness.store.store import Store
from harness.store.summary import Setting

_STAGES = re.compile(r"\b([12])-stage\b")


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    unlinked: tuple[str, ...] = ()
    """Encoder subjects with no registry id (shown, but never beside a measured run)."""


def import_published(store: Store, rows: Sequence[PublishedRow], collection: str,
                     attempts: int = 3) -> ImportReport:
    """Upsert ``rows`` keyed by (source, subject, metric): importing twice changes nothing."""
    for attempt in range(1, attempts + 1):
        try:
            with store.session(write=True) as session:
                return _import(session, rows, collection)
        except (IntegrityError, OperationalError):
            if attempt == attempts:  # another import of the same table raced us
                raise
    raise AssertionError("unreachable")


def _import(session: Any, rows: Sequence[PublishedRow], collection: str) -> ImportReport:
    report = ImportReport()
    existing = {
        (p.source, p.subject, p.metric): p
        for p in session.scalars(select(PublishedScoreRow).where(
            PublishedScoreRow.source.in_({r.source for r in rows})))
    }
    now = datetime.now(UTC).replace(tzinfo=None)
    for row in rows:
        fields = {
            "collection": collection, "paper": row.paper, "subject_kind": row.kind,
            "encoder_id": row.encoder_id, "connector": row.connector, "group": row.group,
            "supervision": row.supervision,
            "level": row.level, "category": row.category, "value": row.value,
        }
        current = existing.get((row.source, row.subject, row.metric))
        if current is None:
            session.add(PublishedScoreRow(source=row.source, subject=row.subject,
                                          metric=row.metric, imported_at=now, **fields))
            report.added += 1
        elif any(getattr(current, k) != v for k, v in fields.items()):
            for k, v in fields.items():
                setattr(current, k, v)
            current.imported_at = now
            report.updated += 1
        else:
            report.unchanged += 1
    report.unlinked = tuple(sorted({r.subject for r in rows
                                    if r.kind in ("encoder", "encoder ensemble")
                                    and r.encoder_id is None}))
    return report


def source_stages(source: str) -> int | None:
    """How many training stages a published setting used, when its source says (``2-stage``)."""
    match = _STAGES.search(source)
    return int(match.group(1)) if match else None


def beside_measured(published: Sequence[dict[str, Any]],
                    settings: Sequence[Setting]) -> list[dict[str, Any]]:
    """Each linked published number beside every measured setting of the same encoder (with
    as many stages as the source states): a category average beside the setting's, with how
    many of the category's columns it covers, or a Table 5 benchmark column (LLaVA-1.5's GQA,
    MME-P, ...) beside the setting's number for it, on the published scale. The difference is
    given once the measured number is the paper's kind (a partial average is not)."""
    by_encoder: dict[str, list[Setting]] = {}
    for s in settings:
        by_encoder.setdefault(s.encoder_id, []).append(s)
    out = []
    for p in published:
        column = p["category"] if p["level"] == "category" else p["metric"]
        table5 = p["level"] == "benchmark" and category_of(p["metric"]) is not None
        if not p["encoder_id"] or not (p["level"] == "category" or table5):
            continue
        stages = source_stages(p["source"])
        for s in by_encoder.get(p["encoder_id"], []):
            if stages is not None and s.recipe_stages not in (0, stages):
                continue
            if p.get("connector") and s.connector != p["connector"]:
                continue  # measured under another connector than the paper's
            if table5:
                if column not in s.table5:
                    continue
                measured, covered, complete = s.table5[column], 1, True
            else:
                cell = s.categories.get(column)
                if cell is None:
                    continue
                measured, covered, complete = cell.value, cell.benchmarks, cell.complete
            out.append({
                "encoder_id": p["encoder_id"], "subject": p["subject"], "source": p["source"],
                "column": column, "category": p["category"], "published": p["value"],
                "recipe": s.recipe, "llm": s.llm, "connector": s.connector, "preset": s.preset,
                "smoke": s.smoke, "seeds": s.seeds, "measured": measured,
                "benchmarks": covered, "complete": complete,
                "difference": measured - p["value"] if complete else None,
            })
    return out


def table_rows(published: Sequence[dict[str, Any]], axis: str,
               category: str | None = None) -> list[dict[str, Any]]:
    """Published numbers as leaderboard rows (``kind`` = published), one per subject and
    source: category averages for the ``category`` axis, per-benchmark values (as published,
    MME-P on its 2000-point scale) for the ``benchmark`` axis."""
    level = {"category": "category", "benchmark": "benchmark"}.get(axis)
    if level is None:
        return []
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for p in published:
        if p["level"] != level or (category is not None and p["category"] != category):
            continue
        column = p["category"] if level == "category" else p["metric"]
        row = rows.setdefault((p["source"], p["subject"]), {
            "kind": "published", "source": p["source"], "subject": p["subject"],
            "subject_kind": p["subject_kind"], "encoder_id": p["encoder_id"] or p["subject"],
            "group": p["group"], "supervision": p["supervision"], "paper": p["paper"],
            "recipe": "", "llm": "", "connector": "", "preset": "", "smoke": False,
            "seeds": 0, "values": {}, "counts": {},
        })
        row["values"][column] = p["value"]
    return list(rows.values())
