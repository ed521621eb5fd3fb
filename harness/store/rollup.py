"""Per-setting aggregates kept up to date run by run: after an ingest, the dashboard looks at
which finished runs changed and re-reads only their scores, instead of aggregating every score
in the store again (a page view after a change stays fast with thousands of runs)."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from statistics import fmean as mean
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from harness.eval.bootstrap import Draws
from harness.eval.categories import columns
from harness.record import MEASURED
from harness.store.models import EncoderRow, RunRow, ScoreRow
from harness.store.noise import RunDraws, pooled_columns, setting_rng
from harness.store.queries import KEYS_PER_QUERY, replicates
from harness.store.summary import (
    OVERALL,
    SETTING_FIELDS,
    Setting,
    build_settings,
    setting_key,
)

FULL_READ_SHARE = 0.25
"""Above this share of changed runs one scan of every score beats many keyed lookups."""

# ingested_at too: an ingest that found new bootstrap draws for an unchanged record bumps it,
# and the setting's pooled draws must follow.
_IDENTITY_COLUMNS = (
    RunRow.record_hash, RunRow.ingested_at, RunRow.encoder_id, RunRow.recipe, RunRow.llm,
    RunRow.connector, RunRow.preset, RunRow.smoke, RunRow.setting_hash, RunRow.scale,
    RunRow.recipe_encoder,
    RunRow.recipe_stages, EncoderRow.group, EncoderRow.supervision, EncoderRow.architecture,
)
_IDENTITY_NAMES = ("record_hash", "ingested_at", *SETTING_FIELDS, "recipe_encoder",
                   "recipe_stages", "group", "supervision", "architecture")
_SCORE_COLUMNS = (
    ScoreRow.run_key, ScoreRow.benchmark, ScoreRow.metric, ScoreRow.subset, ScoreRow.category,
    ScoreRow.value,
    ScoreRow.chance, ScoreRow.n, ScoreRow.benchmark_version, ScoreRow.prompt_hash,
    ScoreRow.label_patch, ScoreRow.dataset_hash,
)
VARIANT_FIELDS = ("benchmark", "category", "benchmark_version", "prompt_hash", "label_patch",
                  "dataset_hash")


@dataclass(frozen=True)
class RunScores:
    """One finished run as the rollup holds it: what it was ingested as, and its overall
    and Table 5 scores as (benchmark, metric, subset, category, value, chance, n, *variant
    hashes)."""

    identity: dict[str, Any]
    scores: tuple[tuple[Any, ...], ...]

    @property
    def setting(self) -> tuple[Any, ...]:
        return setting_key(self.identity)

    def variants(self) -> Iterable[tuple[Any, ...]]:
        """(benchmark, category, version, prompt, label patch, dataset, smoke) per score."""
        smoke = self.identity["smoke"]
        for benchmark, _metric, subset, category, _v, _c, _n, *hashes in self.scores:
            if subset == OVERALL:
                yield (benchmark, category, *hashes, smoke)


class SettingsRollup:
    """The settings list (``summary.Setting``), updated in place from the runs that changed
    since the last ``refresh``. Thread-safe; one per store object."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, RunScores] = {}
        self._members: dict[tuple[Any, ...], set[str]] = defaultdict(set)
        self._settings: dict[tuple[Any, ...], Setting] = {}
        self._variants: Counter[tuple[Any, ...]] = Counter()
        self._sorted: list[Setting] = []

    def refresh(self, session: Session) -> list[Setting]:
        """Bring the rollup up to date with the store; returns the settings, sorted by key."""
        with self._lock:
            current = _finished_runs(session)
            gone = [key for key in self._runs if key not in current]
            changed = [key for key, identity in current.items()
                       if key not in self._runs or self._runs[key].identity != identity]
            if not gone and not changed:
                return self._sorted
            full = len(changed) > FULL_READ_SHARE * max(1, len(current))
            scores = _scores(session, None if full else changed)
            dirty: set[tuple[Any, ...]] = set()
            for key in gone:
                dirty.add(self._drop(key))
            for key in changed:
                if key in self._runs:
                    dirty.add(self._drop(key))
                run = self._runs[key] = RunScores(current[key], tuple(scores.get(key, ())))
                self._members[run.setting].add(key)
                self._variants.update(run.variants())
                dirty.add(run.setting)
            for setting in dirty:
                self._rebuild(setting, session)
            self._variants = +self._variants  # drop the counts that fell to zero
            self._sorted = sorted(self._settings.values(), key=lambda s: s.order)
            return self._sorted

    def benchmark_versions(self, include_smoke: bool = True) -> list[dict[str, Any]]:
        """As ``queries.benchmark_versions``, from the runs the last ``refresh`` saw."""
        with self._lock:
            counts = Counter()
            for (*variant, smoke), runs in self._variants.items():
                if include_smoke or not smoke:
                    counts[tuple(variant)] += runs
        out: dict[str, dict[str, Any]] = {}
        for (benchmark, category, version, prompt, patch, dataset), runs in sorted(
                counts.items(), key=lambda kv: tuple(str(v) for v in kv[0])):
            entry = out.setdefault(benchmark, {
                "benchmark": benchmark, "category": category, "runs": 0, "variants": 0,
                "versions": set(), "prompt_hashes": set(), "label_patches": set(),
                "dataset_hashes": set(),
            })
            entry["runs"] += runs
            entry["variants"] += 1
            for name, value in (("versions", version), ("prompt_hashes", prompt),
                                ("label_patches", patch), ("dataset_hashes", dataset)):
                if value:
                    entry[name].add(value)
        for entry in out.values():
            for name in ("versions", "prompt_hashes", "label_patches", "dataset_hashes"):
                entry[name] = sorted(entry[name])
        return [out[b] for b in sorted(out)]

    def members(self, setting: tuple[Any, ...]) -> list[str]:
        """The finished runs (one per seed) a setting averages, as of the last ``refresh``."""
        with self._lock:
            return sorted(self._members.get(setting, ()))

    def run_draws(self, session: Session, keys: list[str]) -> list[RunDraws]:
        """Finished runs as ``harness.store.noise`` compares them (unknown keys left out)."""
        with self._lock:
            runs = {k: self._runs[k] for k in keys if k in self._runs}
        return _run_draws(session, runs)

    def _drop(self, key: str) -> tuple[Any, ...]:
        run = self._runs.pop(key)
        self._members[run.setting].discard(key)
        self._variants.subtract(run.variants())
        return run.setting

    def _rebuild(self, setting: tuple[Any, ...], session: Session) -> None:
        members = sorted(self._members.get(setting, ()))
        if not members:
            self._members.pop(setting, None)
            self._settings.pop(setting, None)
            return
        runs = [self._runs[k] for k in members]
        built = build_settings(_aggregate_rows(runs))
        if built:
            built[0].draws = _pooled_draws(session, setting, runs, members)
            self._settings[setting] = built[0]
        else:  # finished runs without any overall score
            self._settings.pop(setting, None)


def _aggregate_rows(runs: list[RunScores]) -> list[dict[str, Any]]:
    """One setting's runs as ``build_settings`` rows: per benchmark and metric, the mean and
    mean square over the runs that have it (what the SQL aggregate used to return)."""
    identity = runs[0].identity
    cells: dict[tuple[str, str, str], list[tuple[Any, ...]]] = defaultdict(list)
    for run in runs:
        for score in run.scores:
            cells[(score[0], score[1], score[2])].append(score)
    rows = []
    for (benchmark, metric, subset), scores in cells.items():
        values = [s[4] for s in scores]
        categories = [s[3] for s in scores if s[3] is not None]
        chances = [s[5] for s in scores if s[5] is not None]
        rows.append({
            **{f: identity[f] for f in (*SETTING_FIELDS, "recipe_encoder", "recipe_stages",
                                        "group", "supervision", "architecture")},
            "smoke": bool(identity["smoke"]), "benchmark": benchmark, "metric": metric,
            "subset": subset,
            "category": max(categories) if categories else None,
            "mean": mean(values),
            "mean_sq": mean(v * v for v in values),
            "runs": len(values), "seeds": len(runs),
            "chance": max(chances) if chances else None,
            "n": max(int(s[6] or 0) for s in scores),
        })
    return rows


def _pooled_draws(session: Session, setting: tuple[Any, ...], runs: list[RunScores],
                  members: list[str]) -> dict[str, Draws]:
    """The setting's columns drawn over its seeds and units, from the runs' kept draws."""
    with_draws = _run_draws(session, dict(zip(members, runs, strict=True)))
    if not any(r.draws for r in with_draws):
        return {}
    return pooled_columns(with_draws, setting_rng(setting))


def _run_draws(session: Session, runs: dict[str, RunScores]) -> list[RunDraws]:
    drawn = replicates(session, list(runs))
    return [RunDraws(key, {(b, m, s): v for b, m, s, _c, v, *_ in run.scores},
                     drawn.get(key, {})) for key, run in runs.items()]


def _finished_runs(session: Session) -> dict[str, dict[str, Any]]:
    query = (select(RunRow.key, *_IDENTITY_COLUMNS)
             .join(EncoderRow, RunRow.encoder_id == EncoderRow.id)
             .where(RunRow.status == "done"))
    # Core rows (tuples), not ORM entities: this runs on every change of the data.
    return {key: dict(zip(_IDENTITY_NAMES, rest, strict=True))
            for key, *rest in session.connection().execute(query).all()}


def _table5_subsets() -> set[tuple[str, str]]:
    """(benchmark, subset) of every Table 5 column read from a slice (CV-Bench's 2D, 3D)."""
    return {(source.benchmark, source.subset) for column in columns().values()
            for source in column.sources if source.subset != OVERALL}


def _scores(session: Session, keys: list[str] | None) -> dict[str, list[tuple[Any, ...]]]:
    """Overall and Table 5 scores that finished runs measured, by run key: all of them, or
    those of ``keys``."""
    sliced = _table5_subsets()
    if keys is None:
        subsets = (OVERALL, *sorted({subset for _, subset in sliced}))
        queries = [select(*_SCORE_COLUMNS, ScoreRow.kind)
                   .join(RunRow, ScoreRow.run_key == RunRow.key)
                   .where(RunRow.status == "done", ScoreRow.subset.in_(subsets))]
    else:
        # The subset is filtered here, not in SQL: with "subset = 'overall'" in the query,
        # SQLite walks the ranked index over every overall score instead of the run-key one.
        queries = [select(*_SCORE_COLUMNS, ScoreRow.kind)
                   .where(ScoreRow.run_key.in_(keys[i:i + KEYS_PER_QUERY]))
                   for i in range(0, len(keys), KEYS_PER_QUERY)]
    out: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    connection = session.connection()
    for query in queries:
        for run_key, *score, kind in connection.execute(query).all():
            benchmark, _metric, subset = score[:3]
            # Only what this harness measured: an external evaluator's score of the same run
            # sits beside it (the run page, the scores API), never in its setting's average.
            if kind == MEASURED and (subset == OVERALL or (benchmark, subset) in sliced):
                out[run_key].append(tuple(score))
    return out
