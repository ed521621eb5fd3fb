"""Store settings and published rows as the dashboard's plain rows (dicts a template and a
figure read), shared by the leaderboard and the families page."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlencode

from api.dashboard.figures import encoder_label
from api.dashboard.render import Row
from harness.eval import categories as table5
from harness.store.summary import Setting


def setting_label(s: Setting) -> str:
    """The encoder id; a combination by its members' names and its connector (``SigLIP
    SO400M/14@384 + DINOv2 ViT-L/14@518 (sva)``), its id kept in links and hover."""
    return encoder_label(s.encoder_id, s.connector)


def measured_rows(settings: Sequence[Setting]) -> list[Row]:
    return [measured_row(s) for s in settings]


def measured_row(s: Setting) -> Row:
    categories = s.categories
    return {
        "kind": "measured", "label": setting_label(s), "encoder_id": s.encoder_id,
        "group": s.group, "recipe": s.recipe, "llm": s.llm, "connector": s.connector,
        "preset": s.preset, "smoke": s.smoke, "scale": s.scale, "seeds": s.seeds,
        "values": dict(s.values),
        "partial": {c: not cell.complete for c, cell in categories.items()},
        "std": {b: cell.std for b, cell in s.benchmarks.items()},
        "intervals": {c: (i.low, i.high) for c, i in s.intervals.items()},
        "counts": {c: cell.benchmarks for c, cell in categories.items()},
        "setting": " · ".join((s.recipe, s.llm, s.connector, s.preset)),
        "runs_url": "/runs?" + urlencode({"encoder": s.encoder_id}),
        "benchmark_categories": {b: c.category for b, c in s.benchmarks.items()},
    }


def published_rows(published: Sequence[Row], *, levels: Sequence[str] = ("benchmark",
                   "category", "average"), kinds: Sequence[str] | None = None) -> list[Row]:
    """One row per (source, subject): its category averages and per-benchmark values."""
    rows: dict[tuple[str, str], Row] = {}
    for p in published:
        if p["level"] not in levels or (kinds is not None and p["subject_kind"] not in kinds):
            continue
        row = rows.setdefault((p["source"], p["subject"]), {
            "kind": "published", "label": p["subject"], "encoder_id": p["encoder_id"],
            "group": p["group"], "recipe": "", "llm": "", "connector": "", "preset": "",
            "smoke": False, "seeds": 0, "values": {}, "partial": {}, "std": {}, "counts": {},
            "source": p["source"], "subject_kind": p["subject_kind"], "subject": p["subject"],
        })
        column = p["category"] if p["level"] == "category" else p["metric"]
        row["values"][column] = p["value"]
    return list(rows.values())


def score(row: Row) -> float:
    """What ranks a row: a published table's own average, else the mean of its category
    averages (its benchmarks' values when it has none)."""
    if row["values"].get("Average") is not None:  # a published table's own overall mean
        return row["values"]["Average"]
    values = [v for c, v in row["values"].items() if c in row["counts"] or c in table5.categories()]
    values = values or list(row["values"].values())
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else float("-inf")
