"""Rank correlations and their bootstrap intervals: equal to scipy's where scipy has them,
no correlation (and why) below five encoders or without a spread."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from harness.triage.correlate import (
    MIN_ENCODERS,
    Target,
    _kendall_rows,
    _pearson_rows,
    correlate,
)


def proxies(values: dict[str, float]) -> dict[str, dict]:
    return {e: {"value": v, "ci": (v - 1, v + 1)} for e, v in values.items()}


def target(values: dict[str, float]) -> Target:
    return Target("frozen / llm", "Average", "average", False, values)


def test_a_proxy_that_orders_encoders_as_measured_has_rank_correlation_one() -> None:
    xs = {f"e{i}": float(i) for i in range(6)}
    c = correlate("knn", proxies(xs), target({e: 10 * v + 3 for e, v in xs.items()}))
    assert (c.n, c.spearman, c.kendall, c.reason) == (6, 1.0, 1.0, None)
    assert c.spearman_ci == (1.0, 1.0) and c.kendall_ci == (1.0, 1.0)
    assert [p["encoder_id"] for p in c.points] == sorted(xs)


def test_values_match_scipy_and_intervals_hold_them() -> None:
    rng = np.random.default_rng(0)
    names = [f"e{i}" for i in range(9)]
    x, y = rng.normal(size=9), rng.normal(size=9)
    c = correlate("pairs", proxies(dict(zip(names, x, strict=True))),
                  target(dict(zip(names, x + y, strict=True))))
    assert c.spearman == pytest.approx(stats.spearmanr(x, x + y).statistic, abs=1e-4)
    assert c.kendall == pytest.approx(stats.kendalltau(x, x + y).statistic, abs=1e-4)
    assert c.spearman_ci[0] <= c.spearman <= c.spearman_ci[1]
    assert c.kendall_ci[0] <= c.kendall <= c.kendall_ci[1]
    assert c.spearman_ci[1] - c.spearman_ci[0] > 0.2  # nine encoders leave a wide interval


def test_row_formulas_agree_with_scipy_on_ties() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, 4, (50, 7)).astype(float), rng.integers(0, 4, (50, 7)).astype(float)
    tau, rho = _kendall_rows(x, y), _pearson_rows(stats.rankdata(x, axis=-1),
                                                   stats.rankdata(y, axis=-1))
    for i in range(50):
        expected_tau = stats.kendalltau(x[i], y[i]).statistic
        expected_rho = stats.spearmanr(x[i], y[i]).statistic
        assert np.isnan(tau[i]) == np.isnan(expected_tau)
        assert np.isnan(expected_tau) or tau[i] == pytest.approx(expected_tau)
        assert np.isnan(expected_rho) or rho[i] == pytest.approx(expected_rho)


def test_below_five_encoders_there_is_no_correlation_and_the_reason_says_so() -> None:
    xs = {f"e{i}": float(i) for i in range(MIN_ENCODERS - 1)}
    c = correlate("knn", proxies({**xs, "other": 9.0}), target(xs))
    assert c.spearman is None and c.kendall is None and c.n == 4
    assert c.reason == ("4 encoders have both a proxy score and a measured one; a rank "
                        "correlation needs at least 5")
    assert len(c.points) == 4  # the scatter still shows them


def test_no_spread_no_correlation() -> None:
    xs = {f"e{i}": float(i) for i in range(6)}
    c = correlate("knn", proxies(xs), target({e: 40.0 for e in xs}))
    assert c.spearman is None and c.reason == "every encoder has the same measured score"
