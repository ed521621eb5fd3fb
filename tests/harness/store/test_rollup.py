"""The per-setting rollup: updated run by run, it must always equal a rollup built from
scratch, read only the scores of runs that changed, and follow replaced and failed runs."""

from __future__ import annotations

import dataclasses

import pytest

from harness.record import Score
from harness.store import Store, ingest_records
from harness.store import rollup as rollup_module
from harness.store.rollup import SettingsRollup
from harness.store.synthetic import synthetic_records


def fresh(store: Store):
    with store.session() as session:
        return SettingsRollup().refresh(session)


def fresh_versions(store: Store, include_smoke: bool):
    rollup = SettingsRollup()
    with store.session() as session:
        rollup.refresh(session)
    return rollup.benchmark_versions(include_smoke)


@pytest.fixture
def records():
    return list(synthetic_records(encoders=6, recipes=2, benchmarks=5, seeds=2, smoke_every=3))


def test_incremental_updates_equal_a_rebuild_from_scratch(store: Store, records) -> None:
    ingest_records(store, records[:10])
    first = store.settings()
    assert first == fresh(store) and len(first) == 5  # 10 runs, 2 seeds per setting

    ingest_records(store, records[10:])
    # A rerun with other numbers replaces its run; a failed rerun takes a run out.
    replaced = dataclasses.replace(records[0], scores=tuple(
        dataclasses.replace(s, value=s.value / 2) for s in records[0].scores))
    failed = dataclasses.replace(records[1], status="failed", scores=(),
                                 error="CUDA out of memory")
    ingest_records(store, [replaced, failed])
    now = store.settings()
    assert now == fresh(store)
    assert len(now) == 12
    setting = next(s for s in now if s.encoder_id == records[0].encoder.id
                   and s.recipe == records[0].recipe)
    assert setting.seeds == 1  # its other seed failed
    probe = records[0].scores[0]
    assert setting.benchmarks[probe.benchmark].value == pytest.approx(probe.value / 2)
    for include_smoke in (True, False):
        assert store.benchmark_versions(include_smoke) == fresh_versions(store, include_smoke)


def test_a_new_run_costs_a_read_of_its_own_scores_only(store: Store, records,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    ingest_records(store, records[:-1])
    store.settings()
    reads = []
    real = rollup_module._scores

    def spy(session, keys):
        reads.append(keys)
        return real(session, keys)

    monkeypatch.setattr(rollup_module, "_scores", spy)
    ingest_records(store, records[-1:])
    incremental = store.settings()
    assert reads == [[records[-1].run_key]]
    store.settings()  # nothing changed: no read at all
    assert len(reads) == 1
    assert incremental == fresh(store)


def test_versions_count_runs_per_variant_and_hide_smoke(store: Store, records) -> None:
    relabelled = dataclasses.replace(records[0], scores=tuple(
        dataclasses.replace(s, prompt_hash="p1") for s in records[0].scores))
    ingest_records(store, [relabelled, *records[1:]])
    versions = {v["benchmark"]: v for v in store.benchmark_versions()}
    first = records[0].scores[0].benchmark
    assert versions[first]["prompt_hashes"] == ["p0", "p1"]
    assert versions[first]["variants"] == 2
    assert versions[first]["runs"] == len(records)
    smoke_runs = sum(r.smoke for r in records)
    assert smoke_runs and not records[0].smoke
    without = {v["benchmark"]: v for v in store.benchmark_versions(include_smoke=False)}
    assert without[first]["runs"] == len(records) - smoke_runs


def test_a_run_without_overall_scores_makes_no_setting(store: Store, records) -> None:
    only_subset = dataclasses.replace(records[0], scores=(
        Score("probe", "accuracy", "Count", 50.0, 10),))
    ingest_records(store, [only_subset])
    assert store.settings() == [] == fresh(store)


def test_a_recipe_edited_under_its_name_is_another_setting(tmp_path) -> None:
    """Runs are seeds of one setting when their configs differ only in the seed."""
    import pytest

    from harness.errors import HarnessError
    from harness.record import EncoderInfo, ResultRecord, Score
    from harness.store import Store, ingest_record

    store = Store(f"sqlite:///{tmp_path / 'h.db'}")

    def run(key: str, seed: int, lr: float, value: float) -> ResultRecord:
        return ResultRecord(
            run_key=key, status="done", smoke=False,
            encoder=EncoderInfo("enc", "clip", "language", "vit", 224, tiny=False),
            recipe="frozen", llm="llm", connector="mlp2x_gelu", seed=seed, preset="full",
            config={"recipe": {"name": "frozen", "lr": lr}, "seed": seed},
            scores=(Score("probe", "accuracy", "overall", value, 100),))

    for record in (run("a", 0, 1e-3, 40.0), run("b", 1, 1e-3, 50.0), run("c", 0, 2e-3, 90.0)):
        ingest_record(store, record)
    settings = sorted(store.settings(), key=lambda s: s.seeds)
    assert [(s.seeds, s.value("probe")) for s in settings] == [(1, 90.0), (2, 45.0)]
    # A score no range is given for is held to its benchmark's declared one.
    wild = run("d", 2, 1e-3, 1e9)
    with pytest.raises(HarnessError, match="= 1e\\+09 is outside its metric's declared range"):
        ingest_record(store, wild)


def test_presets_that_differ_only_outside_the_run_key_share_a_setting(tmp_path) -> None:
    """Two presets whose runs have the same config (one scored with a larger eval batch)
    give seeds of one setting; the setting shows the first one's name."""
    from harness.record import EncoderInfo, ResultRecord, Score
    from harness.store import Store, ingest_record

    store = Store(f"sqlite:///{tmp_path / 'h.db'}")
    for key, seed, preset, value in (("a", 0, "study", 40.0), ("b", 1, "study-fast", 50.0)):
        ingest_record(store, ResultRecord(
            run_key=key, status="done", smoke=False,
            encoder=EncoderInfo("enc", "clip", "language", "vit", 224, tiny=False),
            recipe="frozen", llm="llm", connector="mlp2x_gelu", seed=seed, preset=preset,
            config={"recipe": {"name": "frozen"}, "seed": seed},
            scores=(Score("probe", "accuracy", "overall", value, 100),)))
    [setting] = store.settings()
    assert setting.seeds == 2 and setting.value("probe") == 45.0
