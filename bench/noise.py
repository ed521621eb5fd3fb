"""What keeping bootstrap draws costs (not a test: it prints numbers).

    python bench/noise.py [--encoders 20 --recipes 4 --seeds 3 --repeat 5]

1. The dashboard's settings rollup built from scratch (a server start, or the first view after
   a full re-read) over the same synthetic store with and without every run's draws of its
   16 Table 5 scores (2,000 float32 each), alternated ``--repeat`` times: median, spread and
   the ratio of medians.
2. ``harness compare`` on two settings of that store (resolve both sides and report), median.
3. The per-run cost at evaluation: the bootstrap draws of a CV-Bench-sized benchmark (2,638
   questions, resampled within 3 sources) and of MMVP (150 pairs).
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from report import ratio_line  # noqa: E402  (bench/ holds the script)
from sqlalchemy import delete, insert, select

from harness.eval.benchmarks import BENCHMARKS
from harness.eval.bootstrap import RESAMPLES, Bootstrap, replicates
from harness.eval.scoring import Judged
from harness.store import Store, ingest_records
from harness.store.compare import report, resolve
from harness.store.models import ReplicatesRow, ScoreRow
from harness.store.synthetic import synthetic_records


def fill(url: str, encoders: int, recipes: int, seeds: int) -> list[dict]:
    """The synthetic store, and draws for every overall score (kept aside to re-insert)."""
    store = Store(url)
    ingest_records(store, synthetic_records(encoders=encoders, recipes=recipes, benchmarks=16,
                                            seeds=seeds))
    rng = np.random.default_rng(0)
    rows = []
    with store.session() as session:
        scores = session.execute(select(ScoreRow.run_key, ScoreRow.benchmark, ScoreRow.metric,
                                        ScoreRow.subset, ScoreRow.value)
                                 .where(ScoreRow.subset == "overall")).all()
    for run_key, benchmark, metric, subset, value in scores:
        draws = rng.normal(value, 2.0, RESAMPLES).astype("<f4").tobytes()
        units = hashlib.sha256(benchmark.encode()).hexdigest()[:16]
        rows.append({"run_key": run_key, "benchmark": benchmark, "metric": metric,
                     "subset": subset, "units": units, "resamples": RESAMPLES, "seed": 0,
                     "draws": draws})
    return rows


def set_draws(url: str, rows: list[dict], keep: bool) -> None:
    store = Store(url)
    with store.session(write=True) as session:
        session.execute(delete(ReplicatesRow))
        if keep:
            for i in range(0, len(rows), 2000):
                session.execute(insert(ReplicatesRow), rows[i:i + 2000])


def rollup_seconds(url: str) -> float:
    store = Store(url)  # a fresh object: its rollup starts empty
    start = time.perf_counter()
    settings = store.settings()
    elapsed = time.perf_counter() - start
    assert settings
    return elapsed


def spread(values: list[float]) -> str:
    return (f"median {statistics.median(values) * 1000:.0f} ms "
            f"(min {min(values) * 1000:.0f}, max {max(values) * 1000:.0f}, n={len(values)})")


def draw_seconds(name: str, judged: list[Judged]) -> float:
    benchmark = BENCHMARKS.get(name)
    start = time.perf_counter()
    replicates(benchmark.score, judged, Bootstrap(), within=benchmark.resample_within)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoders", type=int, default=20)
    parser.add_argument("--recipes", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'harness.db'}"
        rows = fill(url, args.encoders, args.recipes, args.seeds)
        runs = args.encoders * args.recipes * args.seeds
        print(f"store: {runs} runs, {len(rows)} scores with draws "
              f"({len(rows) * RESAMPLES * 4 / 2**20:.0f} MiB of draws)")
        timings: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(args.repeat):
            for keep in (False, True):
                set_draws(url, rows, keep)
                timings[keep].append(rollup_seconds(url))
        print(f"settings rollup, no draws:   {spread(timings[False])}")
        print(f"settings rollup, with draws: {spread(timings[True])}")
        rollup_ratio = statistics.median(timings[True]) / statistics.median(timings[False])
        print(f"ratio of medians: {rollup_ratio:.2f}")
        store = Store(url)
        names = sorted({s.encoder_id for s in store.settings()})
        recipe = store.settings()[0].recipe
        compare_times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            report(resolve(store, f"{names[0]},recipe={recipe}"),
                   resolve(store, f"{names[1]},recipe={recipe}"), plan=2.0)
            compare_times.append(time.perf_counter() - start)
        print(f"compare two settings ({args.seeds} seeds each): {spread(compare_times)}")
    rng = random.Random(1)
    cv = [Judged(rng.random() < 0.6, task=rng.choice(["Count", "Relation", "Depth"]),
                 type=rng.choice(["2D", "3D"]), source=rng.choice(["ADE20K", "COCO", "Omni3D"]),
                 n_choices=4, idx=str(i)) for i in range(2638)]
    pairs = [Judged(rng.random() < 0.6, n_choices=2, idx=str(i), group=str(i // 2))
             for i in range(300)]
    print(f"draws at evaluation, CV-Bench (2,638 questions): "
          f"{spread([draw_seconds('cv-bench', cv) for _ in range(3)])}")
    print(f"draws at evaluation, MMVP (150 pairs): "
          f"{spread([draw_seconds('mmvp', pairs) for _ in range(3)])}")
    print(ratio_line("noise (settings rollup time, with draws / without)", rollup_ratio))


if __name__ == "__main__":
    main()
