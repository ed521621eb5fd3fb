"""Pure functions from per-setting scores to the tables the API and dashboard show: by category,
benchmark, recipe and group, and the frozen/unfrozen and one-/two-stage comparisons.

A *setting* is one encoder under one recipe, LLM, connector and preset; its numbers are the
mean over its seeds of each benchmark's declared headline metric on the ``overall`` subset,
and of each Cambrian Table 5 column; its category averages are made of those columns alone,
by the rule ``harness eval`` and the published numbers use (``harness.eval.categories``).
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from statistics import fmean as mean
from typing import Any, Literal

from harness.eval.benchmarks import declared_headline
from harness.eval.bootstrap import Draws, Interval, within_noise
from harness.eval.categories import categories, columns_from_values, to_percent

OVERALL = "overall"
BLIND_SUFFIXES = ("_blind", ":blind")
"""A metric named ``<metric>_blind`` (or ``<metric>:blind``) is ``<metric>`` measured with no
image: the difference is the benchmark's vision reliance (Cambrian's blind test)."""

SETTING_FIELDS = ("encoder_id", "recipe", "llm", "connector", "preset", "smoke", "setting_hash",
                  "scale")
"""What a setting shows of itself; ``setting_key`` says which runs are its seeds."""


def setting_key(values: Mapping[str, Any]) -> tuple[Any, ...]:
    """Which setting a run (or a setting's fields) belongs to: its resolved config without the
    seed (``setting_hash``), so a recipe edited under the same name is another setting and a
    preset that differs only outside the run key (``eval_batch``) is not; the names shown,
    for a record that carries no config."""
    if values.get("setting_hash"):
        return (values["setting_hash"], bool(values["smoke"]))
    return tuple(values[f] for f in SETTING_FIELDS)
Axis = Literal["category", "benchmark", "recipe", "group"]
AXES: tuple[Axis, ...] = ("category", "benchmark", "recipe", "group")
ComparisonKind = Literal["unfreezing", "stages"]
COMPARISONS: tuple[ComparisonKind, ...] = ("unfreezing", "stages")


def blind_base(metric: str) -> str | None:
    """The with-image metric a blind metric pairs with, or None for an ordinary metric."""
    for suffix in BLIND_SUFFIXES:
        if metric.endswith(suffix):
            return metric.removesuffix(suffix)
    return None


def headline_metric(benchmark: str, metrics: Iterable[str]) -> str | None:
    """The metric a benchmark is ranked by: the one its declaration names. A benchmark this
    installation does not know (a plugin installed elsewhere) is ranked by its only metric,
    and not at all when it has several: there is nothing to tell which one leads."""
    candidates = sorted(m for m in metrics if blind_base(m) is None)
    declared = declared_headline(benchmark)
    if declared is not None:
        return declared if declared in candidates else None
    return candidates[0] if len(candidates) == 1 else None


@dataclass(frozen=True)
class Cell:
    """A benchmark's number in one setting: the mean over seeds, with their spread."""

    value: float
    metric: str
    category: str
    seeds: int
    std: float | None = None
    blind: float | None = None
    """The same metric with no image, when the run measured it."""
    chance: float | None = None
    """What guessing scores, when the benchmark says."""
    items: int = 0
    """Items the value is computed over (per run)."""

    @property
    def vision_gap(self) -> float | None:
        return None if self.blind is None else self.value - self.blind


@dataclass(frozen=True)
class CategoryCell:
    value: float
    benchmarks: int
    """How many of the category's Table 5 columns were measured."""
    size: int
    """How many columns the category has (the paper's four)."""

    @property
    def complete(self) -> bool:
        return self.benchmarks >= self.size


@dataclass
class Setting:
    encoder_id: str
    group: str
    supervision: str
    architecture: str
    recipe: str
    llm: str
    connector: str
    preset: str
    smoke: bool
    recipe_encoder: str
    recipe_stages: int
    seeds: int
    setting_hash: str = ""
    """The resolved config without its seed, hashed (``SETTING_FIELDS``)."""
    scale: str = "full"
    """``cpu``: real weights trained at CPU scale, not comparable with paper-scale results."""
    benchmarks: dict[str, Cell] = field(default_factory=dict)
    table5: dict[str, float] = field(default_factory=dict)
    """Cambrian Table 5 columns on their published scales (MME-P in points), mean over seeds."""
    draws: dict[str, Draws] = field(default_factory=dict)
    """Column (as in ``values``) -> bootstrap draws over seeds and units, where the runs kept
    theirs (``harness.store.noise``)."""

    @property
    def key(self) -> tuple[Any, ...]:
        return setting_key({f: getattr(self, f) for f in SETTING_FIELDS})

    @property
    def order(self) -> tuple[Any, ...]:
        """How settings are listed: by the names they show."""
        return tuple(getattr(self, f) for f in SETTING_FIELDS)

    @cached_property
    def categories(self) -> dict[str, CategoryCell]:
        """Paper rule: the plain mean of the category's Table 5 columns on 0-100; a category
        with columns missing averages those present and says how many (``complete``)."""
        out = {}
        for category, names in categories().items():
            present = [to_percent(n, self.table5[n]) for n in names if n in self.table5]
            if present:
                out[category] = CategoryCell(mean(present), len(present), len(names))
        return dict(sorted(out.items()))

    @cached_property
    def values(self) -> dict[str, float]:
        """Every column this setting has a number in: category averages and benchmarks (a
        benchmark wins a name clash). Kept with the object: the rollup hands the same Setting
        back until one of its runs changes, so views built on it are not redone."""
        out = {c: cell.value for c, cell in self.categories.items()}
        out.update((b, cell.value) for b, cell in self.benchmarks.items())
        return out

    def value(self, column: str) -> float | None:
        """A benchmark's value, else a category's average, else None."""
        return self.values.get(column)

    @cached_property
    def intervals(self) -> dict[str, Interval]:
        """Column -> 95% interval over seeds and units (two-stage bootstrap)."""
        return {c: d.interval() for c, d in self.draws.items() if c in self.values}

    def identity(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in (*SETTING_FIELDS, "group", "supervision",
                                              "architecture", "seeds")}


def build_settings(rows: Iterable[dict[str, Any]]) -> list[Setting]:
    """Settings from aggregated score rows (``rollup.SettingsRollup``): one row per setting,
    benchmark, metric and subset with ``mean``, ``mean_sq``, ``runs`` and ``category``."""
    settings: dict[tuple[Any, ...], Setting] = {}
    metrics: dict[tuple[Any, ...], dict[str, dict[str, Any]]] = defaultdict(dict)
    table5_values: dict[tuple[Any, ...], dict[tuple[str, str, str], float]] = defaultdict(dict)
    for row in rows:
        key = setting_key(row)
        setting = settings.get(key)
        if setting is None:
            setting = settings[key] = Setting(
                **{f: row[f] for f in SETTING_FIELDS},
                group=row["group"], supervision=row["supervision"],
                architecture=row["architecture"], recipe_encoder=row["recipe_encoder"],
                recipe_stages=row["recipe_stages"], seeds=row["seeds"],
            )
        if row["subset"] == OVERALL:
            metrics[(*key, row["benchmark"])][row["metric"]] = row
        table5_values[key][(row["benchmark"], row["metric"], row["subset"])] = row["mean"]
    for key, values in table5_values.items():
        settings[key].table5 = columns_from_values(values)
    for (*key, benchmark), by_metric in metrics.items():
        headline = headline_metric(benchmark, by_metric)
        if headline is None:
            continue
        row = by_metric[headline]
        blind = next((r for m, r in by_metric.items() if blind_base(m) == headline), None)
        settings[tuple(key)].benchmarks[benchmark] = Cell(
            value=row["mean"], metric=headline, category=row["category"] or "",
            seeds=row["runs"], std=_std(row), blind=None if blind is None else blind["mean"],
            chance=row.get("chance"), items=row.get("n", 0),
        )
    return sorted(settings.values(), key=lambda s: s.order)


def _std(row: dict[str, Any]) -> float | None:
    if row["runs"] < 2:
        return None
    # Sample standard deviation over seeds from the SQL aggregates (mean and mean of squares).
    variance = max(0.0, row["mean_sq"] - row["mean"] ** 2) * row["runs"] / (row["runs"] - 1)
    return math.sqrt(variance)


def filter_settings(
    settings: Sequence[Setting],
    *,
    group: str | None = None,
    recipe: str | None = None,
    llm: str | None = None,
    encoder: str | None = None,
    preset: str | None = None,
    include_smoke: bool = True,
) -> list[Setting]:
    wanted = {"group": group, "recipe": recipe, "llm": llm, "encoder_id": encoder,
              "preset": preset}
    return [
        s for s in settings
        if (include_smoke or not s.smoke)
        and all(v is None or getattr(s, k) == v for k, v in wanted.items())
    ]


def columns(settings: Sequence[Setting], axis: Literal["category", "benchmark"],
            category: str | None = None) -> list[str]:
    if axis == "category":
        found = {c for s in settings for c in s.categories}
        return sorted(found if category is None else found & {category})
    return sorted({b for s in settings for b, cell in s.benchmarks.items()
                   if category is None or cell.category == category})


def table(settings: Sequence[Setting], axis: Axis, *, category: str | None = None,
          column: str | None = None) -> dict[str, Any]:
    """The leaderboard pivoted along ``axis``:

    - ``category`` / ``benchmark``: a row per setting, a column per category average or per
      benchmark (only ``category``'s benchmarks when given);
    - ``recipe``: a row per encoder (x LLM, connector, preset), a column per recipe, showing
      ``column`` (a benchmark or category; default: the first category present);
    - ``group``: a row per encoder group (x recipe, LLM, connector, preset), a column per
      category, each the mean over the group's encoders.
    """
    if axis in ("category", "benchmark"):
        cols = columns(settings, axis, category)
        marks = noise_marks(settings, cols)
        rows = [{**_row(s.identity(), {c: s.value(c) for c in cols},
                        counts=_counts(s, cols, axis)),
                 "intervals": {c: [i.low, i.high] for c, i in s.intervals.items() if c in cols},
                 "within_noise_above": mark}
                for s, mark in zip(settings, marks, strict=True)]
        return {"axis": axis, "columns": cols, "column": None, "rows": rows}
    if axis == "recipe":
        column = column or next(iter(columns(settings, "category")), None) or next(
            iter(columns(settings, "benchmark")), None)
        cols = sorted({s.recipe for s in settings})
        grouped: dict[tuple[Any, ...], dict[str, Any]] = {}
        for s in settings:
            # The config hash names the recipe too: one row per encoder holds every recipe.
            ident = {k: v for k, v in s.identity().items()
                     if k not in ("recipe", "seeds", "setting_hash")}
            row = grouped.setdefault(tuple(ident.values()),
                                     _row(ident, dict.fromkeys(cols)))
            if column is not None:
                row["values"][s.recipe] = s.value(column)
        return {"axis": axis, "columns": cols, "column": column, "rows": list(grouped.values())}
    if axis == "group":
        cols = columns(settings, "category", category)
        buckets: dict[tuple[Any, ...], list[Setting]] = defaultdict(list)
        for s in settings:
            buckets[(s.group, s.recipe, s.llm, s.connector, s.preset, s.smoke)].append(s)
        rows = []
        for (group, recipe, llm, connector, preset, smoke), members in sorted(buckets.items()):
            values = {}
            for c in cols:
                found = [v for v in (m.value(c) for m in members) if v is not None]
                values[c] = mean(found) if found else None
            ident = {"group": group, "recipe": recipe, "llm": llm, "connector": connector,
                     "preset": preset, "smoke": smoke, "encoders": len(members)}
            rows.append(_row(ident, values))
        return {"axis": axis, "columns": cols, "column": None, "rows": rows}
    raise ValueError(f"unknown axis {axis!r}; valid: {', '.join(AXES)}")


def noise_marks(settings: Sequence[Setting], cols: Iterable[str]) -> list[dict[str, bool]]:
    """Per setting (in order), for each column: whether its gap to the setting ranked just
    above it on that column is within noise (the paired two-stage interval of the
    difference holds 0). The top setting, and one without draws, get no mark."""
    marks: list[dict[str, bool]] = [{} for _ in settings]
    for c in cols:
        ranked = sorted((i for i, s in enumerate(settings) if s.value(c) is not None),
                        key=lambda i: -settings[i].value(c))
        for above, below in itertools.pairwise(ranked):
            mark = within_noise(settings[above].draws.get(c), settings[below].draws.get(c))
            if mark is not None:
                marks[below][c] = mark
    return marks


def _row(identity: dict[str, Any], values: dict[str, float | None],
         counts: dict[str, int] | None = None) -> dict[str, Any]:
    return {**identity, "values": values, "counts": counts or {}}


def _counts(s: Setting, cols: Sequence[str], axis: str) -> dict[str, int]:
    if axis == "category":
        cats = s.categories
        return {c: cats[c].benchmarks for c in cols if c in cats}
    return {c: s.benchmarks[c].seeds for c in cols if c in s.benchmarks}


def comparisons(settings: Sequence[Setting], kind: ComparisonKind) -> list[dict[str, Any]]:
    """Per encoder (x LLM, connector, preset), the change one recipe trait makes:

    - ``unfreezing``: unfrozen minus frozen encoder, at the same number of stages;
    - ``stages``: two-stage (align, then finetune) minus one-stage, with the encoder equally
      frozen or unfrozen.

    Each side averages the recipes that share its trait (named in ``base_recipes`` and
    ``changed_recipes``); deltas cover every benchmark and category measured on both sides.
    """
    if kind == "unfreezing":
        trait, held, base, changed = "recipe_encoder", "recipe_stages", "frozen", "unfrozen"
    elif kind == "stages":
        trait, held, base, changed = "recipe_stages", "recipe_encoder", 1, 2
    else:
        raise ValueError(f"unknown comparison {kind!r}; valid: {', '.join(COMPARISONS)}")
    sides: dict[tuple[Any, ...], dict[Any, list[Setting]]] = defaultdict(lambda: defaultdict(list))
    for s in settings:
        if getattr(s, trait) in (base, changed):
            key = (s.encoder_id, s.llm, s.connector, s.preset, s.smoke, getattr(s, held))
            sides[key][getattr(s, trait)].append(s)
    out = []
    for (encoder_id, llm, connector, preset, smoke, held_value), by_trait in sorted(
        sides.items(), key=lambda kv: tuple(str(k) for k in kv[0])
    ):
        if base not in by_trait or changed not in by_trait:
            continue
        before, after = _side(by_trait[base]), _side(by_trait[changed])
        cols = sorted(set(before) & set(after))
        first = by_trait[base][0]
        out.append({
            "encoder_id": encoder_id, "group": first.group, "llm": llm, "connector": connector,
            "preset": preset, "smoke": smoke, held: held_value,
            "base_recipes": sorted({s.recipe for s in by_trait[base]}),
            "changed_recipes": sorted({s.recipe for s in by_trait[changed]}),
            "base": {c: before[c] for c in cols},
            "changed": {c: after[c] for c in cols},
            "deltas": {c: after[c] - before[c] for c in cols},
        })
    return out


def _side(members: Sequence[Setting]) -> dict[str, float]:
    if len(members) == 1:
        return members[0].values
    cols: dict[str, list[float]] = defaultdict(list)
    for s in members:
        for c, v in s.values.items():
            cols[c].append(v)
    return {c: mean(v) for c, v in cols.items()}
