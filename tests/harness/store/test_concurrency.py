"""Many writers at once: 32 processes open a fresh store together (so the schema is created
under contention too) and ingest overlapping records; every record ends up stored once."""

from __future__ import annotations

import multiprocessing as mp
import random
from collections import Counter

from sqlalchemy import func, select

from harness.record import EncoderInfo, ResultRecord, Score
from harness.store import Store, ingest_outcome
from harness.store.models import EncoderRow, RunRow, ScoreRow

PROCESSES = 32
RECORDS = 24
PER_PROCESS = 12


def record(i: int) -> ResultRecord:
    encoder = f"enc-{i % 6}"
    return ResultRecord(
        run_key=f"run{i:04d}",
        status="done",
        smoke=False,
        encoder=EncoderInfo(encoder, "ssl", "self", "vit", 224, tiny=False),
        recipe="frozen",
        llm="tiny-llm",
        connector="mlp2x_gelu",
        seed=i,
        preset="full",
        config={"seed": i, "recipe": {"encoder": "frozen", "stages": [{}, {}]}},
        scores=(Score("probe", "accuracy", "overall", float(i), 100, category="Vision-Centric"),
                Score("probe", "accuracy", "task:Count", float(i) / 2, 50)),
    )


def worker(url: str, index: int, barrier, results) -> None:  # type: ignore[no-untyped-def]
    chosen = [(index * 5 + j) % RECORDS for j in range(PER_PROCESS)]
    random.Random(index).shuffle(chosen)
    outcomes = []
    try:
        barrier.wait(timeout=60)
        store = Store(url)  # every process migrates-or-waits at the same moment
        for i in chosen:
            outcomes.append((i, ingest_outcome(store, record(i))))
        store.dispose()
        results.put((index, outcomes, None))
    except Exception as exc:  # reported to the parent, which fails the test with it
        results.put((index, outcomes, f"{type(exc).__name__}: {exc}"))


def test_32_processes_ingest_overlapping_records_exactly_once(db_url: str) -> None:
    context = mp.get_context("fork")  # cheap start: the workers inherit the imports
    barrier = context.Barrier(PROCESSES)
    results = context.Queue()
    procs = [context.Process(target=worker, args=(db_url, i, barrier, results))
             for i in range(PROCESSES)]
    for p in procs:
        p.start()
    reports = [results.get(timeout=240) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    errors = [(i, e) for i, _, e in reports if e]
    assert errors == []
    added = Counter(i for _, outcomes, _ in reports for i, o in outcomes if o == "added")
    # Each record was added by exactly one process; everyone else saw it unchanged.
    assert added == Counter(range(RECORDS))
    outcomes = Counter(o for _, out, _ in reports for _, o in out)
    assert outcomes == {"added": RECORDS, "unchanged": PROCESSES * PER_PROCESS - RECORDS}

    store = Store(db_url)
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(RunRow)) == RECORDS
        assert s.scalar(select(func.count()).select_from(ScoreRow)) == 2 * RECORDS
        assert s.scalar(select(func.count()).select_from(EncoderRow)) == 6
    assert sorted(r["value"] for r in store.leaderboard()) == [float(i) for i in range(RECORDS)]
    store.dispose()
