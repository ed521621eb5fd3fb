"""Noise over seeds and questions: the two-stage bootstrap, category averages inside each
replicate, paired comparisons, the seeds a gap needs, and the store serving them per setting."""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np
import pytest

from harness.eval.bootstrap import Draws, within_noise
from harness.store import Store, ingest_paths
from harness.store.noise import (
    RunDraws,
    Side,
    column_draws,
    compare,
    pool_seeds,
    seeds_needed,
    side,
)

from .scored_runs import pattern, write_scored_run

MMVP = ("mmvp", "pair_accuracy", "overall")
RWQA = ("realworldqa", "accuracy", "overall")


def normal(centre: float, sd: float, seed: int, units: str = "u") -> Draws:
    return Draws(np.random.default_rng(seed).normal(centre, sd, 4000), units)


def test_seeds_that_agree_add_no_width_and_seeds_that_disagree_do() -> None:
    rng = np.random.default_rng(0)
    same = normal(50, 2, seed=1)
    alone = same.interval()
    agreeing = pool_seeds([same, same, same], rng).interval()
    assert agreeing.high - agreeing.low == pytest.approx(alone.high - alone.low, rel=0.01)
    apart = pool_seeds([normal(44, 2, 1), normal(50, 2, 1), normal(56, 2, 1)], rng).interval()
    # sd of a mean of 3 seeds drawn from {44, 50, 56}: sqrt(24 / 3); with the units' 2:
    # sqrt(8 + 4) = 3.46, against 2 for one seed.
    assert apart.high - apart.low == pytest.approx(1.73 * (alone.high - alone.low), rel=0.05)
    assert apart.low < 50 < apart.high


def test_a_category_is_averaged_inside_each_replicate() -> None:
    mmvp, rwqa = normal(40, 3, 1, "m"), normal(60, 3, 2, "r")
    drawn = column_draws({MMVP: mmvp, RWQA: rwqa})
    assert np.allclose(drawn["Vision-Centric"].values, (mmvp.values + rwqa.values) / 2)
    assert drawn["mmvp"].units == "m" and drawn["Vision-Centric"].units not in ("m", "r")


def test_paired_draws_cancel_the_questions_both_find_hard() -> None:
    shared = normal(50, 4, seed=1)
    # B is A lowered by one point on the same units: paired, the gap is exactly 1.
    lower = Draws(shared.values - 1.0, shared.units)
    a = Side("A", ["a"], {"mmvp": 51.0}, {"mmvp": [51.0]}, {"mmvp": shared})
    b = Side("B", ["b"], {"mmvp": 50.0}, {"mmvp": [50.0]}, {"mmvp": lower})
    (diff,) = compare(a, b)
    assert diff.paired and diff.difference == 1.0
    assert diff.low == pytest.approx(1.0) and diff.high == pytest.approx(1.0)
    assert diff.within_noise is False
    # Drawn over other units, the same two numbers are within noise.
    apart = Side("B", ["b"], {"mmvp": 50.0}, {"mmvp": [50.0]}, {"mmvp": normal(49, 4, 2, "v")})
    (loose,) = compare(a, apart)
    assert not loose.paired and loose.within_noise is True
    assert within_noise(shared, lower) is False and within_noise(shared, None) is None


def test_seeds_needed_follow_the_variances() -> None:
    units = Draws(np.random.default_rng(0).normal(0, 1.0, 20000), "u")
    zero = Draws(np.zeros(20000), "u")
    a = Side("A", ["a1", "a2", "a3"], {"mmvp": 52.0}, {"mmvp": [50.0, 52.0, 54.0]},
             fixed_seeds={"mmvp": units})
    b = Side("B", ["b1", "b2", "b3"], {"mmvp": 50.0}, {"mmvp": [49.0, 50.0, 51.0]},
             fixed_seeds={"mmvp": zero})
    plan = seeds_needed(a, b, "mmvp", 5.0)
    z = statistics.NormalDist().inv_cdf(0.975) + statistics.NormalDist().inv_cdf(0.8)
    expected = (2.0 ** 2 + 1.0 ** 2) / ((5.0 / z) ** 2 - plan.unit_sd ** 2)
    assert plan.unit_sd == pytest.approx(1.0, abs=0.02)
    assert plan.seeds == int(np.ceil(expected))
    # A gap smaller than the questions' own noise cannot be resolved by seeds.
    tight = seeds_needed(a, b, "mmvp", 2.0)
    assert tight.seeds is None and tight.note.startswith("no number of seeds")
    single = Side("B", ["b"], {"mmvp": 50.0}, {"mmvp": [50.0]}, fixed_seeds={"mmvp": zero})
    lone = Side("A", ["a"], {"mmvp": 52.0}, {"mmvp": [52.0]}, fixed_seeds={"mmvp": units})
    assert seeds_needed(lone, single, "mmvp", 5.0).seeds is None
    assert "two or more seeds" in seeds_needed(lone, single, "mmvp", 5.0).note
    assert seeds_needed(a, single, "mmvp", 5.0).note.startswith("one side")


def test_a_side_pools_what_each_run_has() -> None:
    runs = [RunDraws("a0", {MMVP: 50.0, RWQA: 60.0}, {MMVP: normal(50, 3, 1)}),
            RunDraws("a1", {MMVP: 54.0}, {MMVP: normal(54, 3, 1)})]
    pooled = side("A", runs, np.random.default_rng(0))
    assert pooled.values["mmvp"] == 52.0 and pooled.values["realworldqa"] == 60.0
    assert pooled.per_seed["mmvp"] == [50.0, 54.0]
    assert set(pooled.pooled) == {"mmvp", "Vision-Centric"}
    with pytest.raises(ValueError, match="no finished runs"):
        side("A", [], np.random.default_rng(0))


def test_the_store_gives_each_setting_its_interval_over_seeds(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    rwqa = [i % 3 != 0 for i in range(100)]
    for seed, (right, shift) in enumerate(((70, 0), (80, 20), (90, 40))):
        write_scored_run(runs, f"a{seed}", "enc-a", seed=seed, mmvp_right=pattern(right, shift),
                         realworldqa_right=rwqa)
    write_scored_run(runs, "b0", "enc-b", mmvp_right=pattern(80), realworldqa_right=rwqa)
    store = Store(f"sqlite:///{tmp_path / 'h.db'}")
    assert ingest_paths(store, sorted(runs.iterdir())).ok
    settings = {s.encoder_id: s for s in store.settings()}
    a, b = settings["enc-a"], settings["enc-b"]
    assert a.seeds == 3 and set(a.intervals) == {"mmvp", "realworldqa", "Vision-Centric"}
    width = {k: v.high - v.low for k, v in a.intervals.items()}
    one_seed = b.intervals["mmvp"].high - b.intervals["mmvp"].low
    # Three seeds 10 pairs apart (6.7 points): wider than one seed's questions alone.
    assert width["mmvp"] > one_seed
    assert a.intervals["mmvp"].low < a.value("mmvp") < a.intervals["mmvp"].high
    # The same answers in every seed: the realworldqa interval is the questions' alone.
    assert width["realworldqa"] == pytest.approx(
        b.intervals["realworldqa"].high - b.intervals["realworldqa"].low, abs=1.0)
    assert store.settings()[0].intervals == settings["enc-a"].intervals  # same every view


def test_a_run_ingested_before_draws_were_kept_gets_them_on_the_next_ingest(
        tmp_path: Path) -> None:
    from sqlalchemy import delete, func, select

    from harness.store.models import ReplicatesRow

    folder = write_scored_run(tmp_path / "runs", "a0", "enc-a", mmvp_right=pattern(80))
    store = Store(f"sqlite:///{tmp_path / 'h.db'}")
    ingest_paths(store, [folder])
    with store.session(write=True) as session:
        session.execute(delete(ReplicatesRow))
    report = ingest_paths(store, [folder])
    assert report.unchanged == 1
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(ReplicatesRow)) == 2
    assert set(store.run_draws(["a0"])[0].draws) == {MMVP, ("mmvp", "accuracy", "overall")}


def test_a_replicate_draws_its_seeds_once_for_every_score() -> None:
    from harness.store.noise import pooled_columns

    def flat(value: float) -> Draws:
        return Draws(np.full(2000, value), "u")

    # Seed 0 is good at both benchmarks, seed 1 bad at both: a replicate that drew seed 0
    # twice must be high on both, so the category sees the seeds' correlation.
    runs = [RunDraws("s0", {MMVP: 60.0, RWQA: 60.0}, {MMVP: flat(60), RWQA: flat(60)}),
            RunDraws("s1", {MMVP: 40.0, RWQA: 40.0}, {MMVP: flat(40), RWQA: flat(40)})]
    pooled = pooled_columns(runs, np.random.default_rng(0))
    assert np.array_equal(pooled["mmvp"].values, pooled["realworldqa"].values)
    assert set(np.unique(pooled["Vision-Centric"].values)) == {40.0, 50.0, 60.0}


def test_vision_reliance_pairs_the_blind_draws_with_the_seen_ones() -> None:
    from harness.store.noise import vision_reliance

    seen, blind = ("probe", "accuracy", "overall"), ("probe", "accuracy_blind", "overall")
    questions = np.random.default_rng(3).normal(0, 5, 4000)  # the same resamples both ways
    runs = [RunDraws(f"s{k}", {seen: 60.0 + k, blind: 45.0 + k},
                     {seen: Draws(60.0 + k + questions, "u"),
                      blind: Draws(45.0 + k + questions, "u")}) for k in range(3)]
    [row] = vision_reliance(runs, np.random.default_rng(0))
    assert (row.benchmark, row.metric, row.seeds) == ("probe", "accuracy", 3)
    assert (row.with_image, row.blind, row.reliance) == (61.0, 46.0, 15.0)
    # Each score alone is as wide as its questions; their difference is exact, because a
    # replicate draws the same seeds and the same questions for both.
    low, high = row.with_image_interval
    assert high - low > 15
    assert row.reliance_interval == pytest.approx((15.0, 15.0), abs=1e-6)
    # A benchmark never scored blind has no row.
    assert vision_reliance([RunDraws("x", {seen: 50.0}, {})], np.random.default_rng(0)) == []
