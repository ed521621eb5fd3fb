"""Proxies held to account: for each proxy and each measured target (a benchmark, a category
average, the average of all), the Spearman and Kendall rank correlations over the encoders that
have both, with 95% bootstrap intervals over encoders.

Measured targets come from the store's finished runs (per recipe and LLM, seeds averaged,
twins apart from real weights) and from the published Cambrian-1 Figure 4 category averages,
which count as measured here: a user with the paper's encoders can check a proxy against the
paper without training anything. Fewer than ``MIN_ENCODERS`` encoders: no correlation, and why.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from harness.eval.bootstrap import LEVEL
from harness.store import Store
from harness.triage.stored import BENCHMARK_PREFIX, KIND, RECIPE

MIN_ENCODERS = 5
RESAMPLES = 2000
SEED = 0
AVERAGE = "Average"
FIGURE4 = "Figure 4"
PUBLISHED_SOURCE = "published: Cambrian-1 Figure 4"
Values = dict[str, float]
"""encoder id -> value."""
ProxyValues = dict[tuple[str, bool], dict[str, dict[str, Any]]]
"""(proxy, smoke) -> encoder id -> its newest overall score (``proxy_values``)."""


@dataclass(frozen=True)
class Target:
    source: str
    """``<recipe> / <llm>`` of the runs (``(twins)`` when their encoders had random weights),
    or ``published: Cambrian-1 Figure 4``."""
    name: str
    """A benchmark and its metric (``probe accuracy``), a category, or ``Average``."""
    level: str
    """``benchmark``, ``category`` or ``average``."""
    smoke: bool
    values: Values


@dataclass
class Correlation:
    proxy: str
    source: str
    target: str
    level: str
    smoke: bool
    n: int
    spearman: float | None = None
    spearman_ci: tuple[float, float] | None = None
    kendall: float | None = None
    kendall_ci: tuple[float, float] | None = None
    reason: str | None = None
    """Why no correlation is given (too few encoders, no spread)."""
    points: list[dict[str, Any]] = field(default_factory=list)
    """Per encoder: the proxy's value (and interval) and the measured value."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- reading the store -------------------------------------------------------------------------


def proxy_values(store: Store) -> ProxyValues:
    """(proxy, smoke) -> encoder -> its newest finished overall score (value, interval)."""
    finished = {r["run_key"]: r["finished_at"] or "" for r in
                store.runs(status="done", recipe=RECIPE)}
    rows, _ = store.scores(recipe=RECIPE, subset="overall")
    out: dict[tuple[str, bool], dict[str, dict[str, Any]]] = defaultdict(dict)
    for row in sorted(rows, key=lambda r: str(finished.get(r["run_key"], ""))):
        if row["kind"] != KIND or not row["benchmark"].startswith(BENCHMARK_PREFIX):
            continue
        proxy = row["benchmark"][len(BENCHMARK_PREFIX):]
        out[(proxy, bool(row["smoke"]))][row["encoder_id"]] = {
            "value": row["value"], "ci": _pair(row["ci_low"], row["ci_high"]),
            "metric": row["metric"], "run_key": row["run_key"]}
    return dict(out)


def _pair(low: float | None, high: float | None) -> tuple[float, float] | None:
    return None if low is None or high is None else (low, high)


def _primary(metrics: set[str]) -> str | None:
    """The metric a benchmark is ranked by: ``accuracy`` where it has one, never a blind one."""
    seen = sorted(m for m in metrics if not m.endswith("_blind"))
    return "accuracy" if "accuracy" in seen else (seen[0] if seen else None)


def measured_targets(store: Store) -> list[Target]:
    """Per recipe and LLM (and twins apart): every benchmark's primary metric, each category's
    mean of its benchmarks, and the mean of all, per encoder, seeds averaged."""
    rows = [r for r in store.leaderboard(subset="overall") if r["recipe"] != RECIPE]
    grouped: dict[tuple[str, str, bool], dict[tuple[str, str], dict[str, list[float]]]] = (
        defaultdict(lambda: defaultdict(lambda: defaultdict(list))))
    categories: dict[str, str] = {}
    for r in rows:
        grouped[(r["recipe"], r["llm"], bool(r["smoke"]))][(r["benchmark"], r["metric"])][
            r["encoder_id"]].append(r["value"])
        categories[r["benchmark"]] = r["category"] or ""
    targets = []
    for (recipe, llm, smoke), by_metric in sorted(grouped.items()):
        source = f"{recipe} / {llm}" + (" (twins)" if smoke else "")
        per_benchmark: dict[str, Values] = {}
        for benchmark in sorted({b for b, _ in by_metric}):
            metric = _primary({m for b, m in by_metric if b == benchmark})
            if metric is None:
                continue
            values = {e: float(np.mean(v)) for e, v in by_metric[(benchmark, metric)].items()}
            per_benchmark[benchmark] = values
            targets.append(Target(source, f"{benchmark} {metric}", "benchmark", smoke, values))
        by_category: dict[str, list[Values]] = defaultdict(list)
        for benchmark, values in per_benchmark.items():
            if categories.get(benchmark):
                by_category[categories[benchmark]].append(values)
        for category, members in sorted(by_category.items()):
            targets.append(Target(source, category, "category", smoke, _mean_of(members)))
        if per_benchmark:
            targets.append(Target(source, AVERAGE, "average", smoke,
                                  _mean_of(list(per_benchmark.values()))))
    return targets


def _mean_of(members: list[Values]) -> Values:
    """Per encoder, the mean over members; only encoders every member has."""
    common = set.intersection(*(set(m) for m in members))
    return {e: float(np.mean([m[e] for m in members])) for e in sorted(common)}


def published_targets(store: Store) -> list[Target]:
    """Cambrian-1 Figure 4's category averages and their mean, for the linked encoders."""
    by_category: dict[str, Values] = defaultdict(dict)
    for row in store.published():
        if row["level"] == "category" and FIGURE4 in row["source"] and row["encoder_id"]:
            by_category[row["category"] or row["metric"]][row["encoder_id"]] = row["value"]
    if not by_category:
        return []
    targets = [Target(PUBLISHED_SOURCE, c, "category", False, v)
               for c, v in sorted(by_category.items())]
    targets.append(Target(PUBLISHED_SOURCE, AVERAGE, "average", False,
                          _mean_of(list(by_category.values()))))
    return targets


# -- the correlations --------------------------------------------------------------------------


def _pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    xc, yc = x - x.mean(-1, keepdims=True), y - y.mean(-1, keepdims=True)
    denominator = np.sqrt((xc ** 2).sum(-1) * (yc ** 2).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (xc * yc).sum(-1) / denominator, np.nan)


def _kendall_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall's tau-b of each row pair (scipy's default variant), all rows at once."""
    upper = np.triu_indices(x.shape[-1], k=1)
    dx = np.sign(x[:, :, None] - x[:, None, :])[:, upper[0], upper[1]]
    dy = np.sign(y[:, :, None] - y[:, None, :])[:, upper[0], upper[1]]
    denominator = np.sqrt((dx != 0).sum(-1) * (dy != 0).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (dx * dy).sum(-1) / denominator, np.nan)


def _interval(drawn: np.ndarray) -> tuple[float, float] | None:
    """The percentile interval of the finite draws; None when most draws had no spread."""
    finite = drawn[np.isfinite(drawn)]
    if len(finite) < len(drawn) / 2:
        return None
    tail = 100 * (1 - LEVEL) / 2
    low, high = np.percentile(finite, [tail, 100 - tail])
    return round(float(low), 4), round(float(high), 4)


def correlate(proxy: str, proxies: dict[str, dict[str, Any]], target: Target,
              resamples: int = RESAMPLES, seed: int = SEED) -> Correlation:
    encoders = sorted(set(proxies) & set(target.values))
    result = Correlation(proxy, target.source, target.name, target.level, target.smoke,
                         len(encoders))
    result.points = [{"encoder_id": e, "proxy": proxies[e]["value"], "proxy_ci": proxies[e]["ci"],
                      "measured": target.values[e]} for e in encoders]
    if len(encoders) < MIN_ENCODERS:
        result.reason = (f"{len(encoders)} encoder{'s' if len(encoders) != 1 else ''} have both"
                         f" a proxy score and a measured one; a rank correlation needs at least"
                         f" {MIN_ENCODERS}")
        return result
    x = np.array([proxies[e]["value"] for e in encoders], dtype=float)
    y = np.array([target.values[e] for e in encoders], dtype=float)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        result.reason = "every encoder has the same " + ("proxy score" if np.ptp(x) == 0
                                                         else "measured score")
        return result
    result.spearman = round(float(stats.spearmanr(x, y).statistic), 4)
    result.kendall = round(float(stats.kendalltau(x, y).statistic), 4)
    # Encoders resampled with replacement; ties from a repeated encoder rank as ties.
    picks = np.random.default_rng(seed).integers(0, len(x), (resamples, len(x)))
    xs, ys = x[picks], y[picks]
    result.spearman_ci = _interval(_pearson_rows(stats.rankdata(xs, axis=-1),
                                                 stats.rankdata(ys, axis=-1)))
    result.kendall_ci = _interval(_kendall_rows(xs, ys))
    return result


def correlations(store: Store, proxies: ProxyValues | None = None) -> list[Correlation]:
    """Every proxy (of ``proxies``, else the store's) against every target of its kind (twins
    with twins, real with real)."""
    proxies = proxy_values(store) if proxies is None else proxies
    targets = measured_targets(store) + published_targets(store)
    return [correlate(proxy, by_encoder, target)
            for (proxy, smoke), by_encoder in sorted(proxies.items())
            for target in targets if target.smoke == smoke]


@dataclass(frozen=True)
class Triage:
    """What the store holds of triage, read once: the proxy scores and every correlation
    (the bootstrap intervals are the cost, a pair per proxy and target)."""

    proxies: ProxyValues
    correlations: list[Correlation]


def read_triage(store: Store) -> Triage:
    proxies = proxy_values(store)
    # No proxy scores, nothing to correlate: the measured scores are not even read.
    return Triage(proxies, correlations(store, proxies) if proxies else [])
