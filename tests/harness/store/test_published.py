"""Published scores in the store: a second kind, imported idempotently, kept out of every
measured aggregate, and set beside measured runs of the same encoder."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import func, select

from harness.published import read_builtin
from harness.record import EncoderInfo, ResultRecord, Score
from harness.store import Store, ingest_record
from harness.store.models import PublishedScoreRow, RunRow, ScoreRow
from harness.store.published import beside_measured, import_published, source_stages

ROWS = read_builtin("cambrian-1")


def count(store: Store, table: type) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(table))


def test_import_is_idempotent_and_follows_a_corrected_value(store: Store) -> None:
    first = import_published(store, ROWS, "cambrian-1")
    assert (first.added, first.updated, first.unchanged, first.unlinked) == (278, 0, 0, ())
    again = import_published(store, ROWS, "cambrian-1")
    assert (again.added, again.updated, again.unchanged) == (0, 0, 278)
    fixed = [dataclasses.replace(r, value=51.5) if r.subject == "GPT-4V" and r.metric == "MMVP"
             else r for r in ROWS]
    third = import_published(store, fixed, "cambrian-1")
    assert (third.added, third.updated, third.unchanged) == (0, 1, 277)
    assert count(store, PublishedScoreRow) == 278
    [mmvp] = [p for p in store.published(subject="GPT-4V") if p["metric"] == "MMVP"]
    assert mmvp["value"] == 51.5 and mmvp["source"].endswith("Table 5 (final models)")


def test_published_never_enter_measured_aggregates(store: Store) -> None:
    import_published(store, ROWS, "cambrian-1")
    assert store.settings() == [] and store.leaderboard() == []
    assert count(store, RunRow) == 0 and count(store, ScoreRow) == 0
    assert store.scores()[1] == 0 and store.encoders()[1] == 0


# The benchmarks that fill General's four columns, their headline metrics and what puts a
# 0-100 value on the metric's scale (MME's perception is in points out of 2,000).
GENERAL = (("mme", "perception", 20.0), ("mmbench", "circular_accuracy", 1.0),
           ("seed-image", "accuracy", 1.0), ("gqa", "accuracy", 1.0))


def record(key: str, recipe: str, stages: int, value: float) -> ResultRecord:
    return ResultRecord(
        run_key=key, status="done", smoke=False,
        encoder=EncoderInfo("dinov2-vit-l14-518.lvd142m", "ssl", "self", "vit", 518,
                            tiny=False),
        recipe=recipe, llm="llm", connector="mlp2x_gelu", seed=0, preset="full",
        config={"recipe": {"encoder": "frozen",
                           "stages": [{"name": "align"}, {"name": "finetune"}][2 - stages:]}},
        scores=tuple(Score(b, metric, "overall", value * scale, 10, category="General")
                     for b, metric, scale in GENERAL[: 4 if value > 50 else 2]),
    )


def test_beside_measured_matches_stages_and_shows_complete_differences(store: Store) -> None:
    import_published(store, ROWS, "cambrian-1")
    ingest_record(store, record("twostage0001", "frozen", 2, 60.0))
    ingest_record(store, record("onestage0001", "frozen-1", 1, 70.0))
    beside = beside_measured(store.published(), store.settings())
    # Figure 4 is two-stage: the one-stage run is not its counterpart.
    assert {b["recipe"] for b in beside} == {"frozen"}
    [general] = [b for b in beside if b["category"] == "General"]
    published = next(p["value"] for p in store.published(encoder="dinov2-vit-l14-518.lvd142m")
                     if p["category"] == "General")
    assert general["complete"] and general["difference"] == general["measured"] - published
    # A category measured on two of its four benchmarks is shown, but not differenced.
    ingest_record(store, record("twostage0001", "frozen", 2, 40.0))
    [partial] = [b for b in beside_measured(store.published(), store.settings())
                 if b["category"] == "General"]
    assert (partial["benchmarks"], partial["complete"], partial["difference"]) == (2, False,
                                                                                   None)


def test_source_stages() -> None:
    assert source_stages("Figure 4 (2-stage: 1.2M adapter)") == 2
    assert source_stages("Table 5 (final models)") is None


def test_llava_15s_benchmarks_sit_beside_a_run_of_its_encoder(store: Store) -> None:
    rows = read_builtin("llava-1.5")
    report = import_published(store, rows, "llava-1.5")
    assert report.added == 12 and report.unlinked == ()
    run = ResultRecord(
        run_key="llavagolden1", status="done", smoke=False,
        encoder=EncoderInfo("clip-vit-l14-336.openai", "clip", "language", "vit", 336,
                            tiny=False),
        recipe="frozen", llm="hf:lmsys/vicuna-7b-v1.5", connector="mlp2x_gelu", seed=0,
        preset="llava-1.5", config={"recipe": {"encoder": "frozen", "stages": [{}, {}]}},
        scores=(Score("gqa", "accuracy", "overall", 60.5, 12578),
                Score("mme", "perception", "overall", 1490.7, 2374)))
    ingest_record(store, run)
    beside = {b["column"]: b for b in beside_measured(store.published(), store.settings())}
    assert set(beside) == {"GQA", "MME-P"}  # VQAv2, POPE, ...: not columns this harness fills
    assert beside["GQA"]["difference"] == pytest.approx(60.5 - 62.0)
    assert beside["MME-P"]["difference"] == pytest.approx(1490.7 - 1510.7)  # both in points
    assert beside["GQA"]["category"] == "General" and beside["GQA"]["complete"]


def test_table_2_sits_beside_an_ensemble_only_under_its_connector(store: Store) -> None:
    """Table 2's setting is interpolation and concatenation to 576 tokens: concat(grid=24)."""
    import dataclasses

    pair = "siglip-vit-so400m14-384.webli+dinov2-vit-l14-518.lvd142m"
    rows = [r for r in ROWS if r.encoder_id == pair]
    assert rows and {r.connector for r in rows} == {"concat(grid=24)"}
    import_published(store, ROWS, "cambrian-1")
    base = record("concat000001", "frozen", 2, 60.0)
    ensemble = dataclasses.replace(base.encoder, id=pair, group="multi")
    for key, connector in (("concat000001", "concat(grid=24)"), ("sva000000001", "sva")):
        ingest_record(store, dataclasses.replace(base, run_key=key, encoder=ensemble,
                                                 connector=connector))
    beside = [b for b in beside_measured(store.published(), store.settings())
              if b["encoder_id"] == pair]
    assert beside and {b["connector"] for b in beside} == {"concat(grid=24)"}
