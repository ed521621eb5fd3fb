"""Latency of the API and dashboard over a large SQLite store (not a test: it prints numbers).

    python bench/store_api.py [--encoders 100 --recipes 6 --benchmarks 20 --seeds 3]

Fills a temporary SQLite store with synthetic runs (100 encoders x 6 recipes x 20 benchmarks
x 3 seeds = 1800 runs by default), serves the app with uvicorn on 127.0.0.1, and times real
HTTP requests: the leaderboard endpoints' p50/p95 over repeated calls, and each dashboard
page's HTML: the first view after start-up, the first view after a new run was ingested (as
a sweep does, from another store object), and the cached views that follow. Targets from
issue 7: leaderboard p95 < 50 ms, every page < 200 ms.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import os
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from report import ratio_line
from sqlalchemy import func, select

from api.app import create_app
from api.settings import Settings
from harness.published import read_builtin
from harness.store import Store, ingest_records
from harness.store.models import ScoreRow
from harness.store.published import import_published
from harness.store.synthetic import synthetic_records

ENDPOINTS = ["/api/v1/leaderboard", "/api/v1/leaderboard/category",
             "/api/v1/leaderboard/benchmark", "/api/v1/leaderboard/group",
             "/api/v1/runs", "/api/v1/scores"]
PAGES = ["/", "/families", "/recipes", "/benchmarks", "/runs"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed_calls(client: httpx.Client, path: str, repeat: int) -> tuple[list[float], int]:
    """``repeat`` GETs of ``path``: each call's milliseconds, and the response size in bytes."""
    times, size = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        response = client.get(path)
        times.append(1000 * (time.perf_counter() - t0))
        response.raise_for_status()
        size = len(response.content)
    return times, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoders", type=int, default=100)
    parser.add_argument("--recipes", type=int, default=6)
    parser.add_argument("--benchmarks", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=40, help="calls per endpoint")
    parser.add_argument("--changes", type=int, default=5,
                        help="new runs ingested per page, each followed by a view")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        # As `harness serve` makes it (freeze_after_warm_up, see api.app.Settings).
        app = create_app(Settings(db_url=f"sqlite:///{Path(tmp) / 'bench.db'}",
                                  freeze_after_warm_up=True))
        print(f"machine load (1 min): {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs "
              "(timings scale with it)")
        started = time.perf_counter()
        report = ingest_records(app.state.store, synthetic_records(
            encoders=args.encoders, recipes=args.recipes, benchmarks=args.benchmarks,
            seeds=args.seeds, smoke_every=10))
        import_published(app.state.store, read_builtin("cambrian-1"), "cambrian-1")
        with app.state.store.session() as s:
            scores = s.scalar(select(func.count()).select_from(ScoreRow))
        print(f"store: {report.added} runs, {scores} scores, loaded in "
              f"{time.perf_counter() - started:.1f} s")

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                               log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        started = time.perf_counter()
        thread.start()
        while not server.started:
            time.sleep(0.01)
        # Start-up builds the per-setting rollup from every score and draws the default pages.
        print(f"server start-up, warm-up included: {time.perf_counter() - started:.2f} s")
        # New runs arrive the way a sweep writes them: through a store of its own.
        writer = Store(app.state.store.url)
        extra = (dataclasses.replace(record, run_key=f"new{i:09d}", seed=1000 + i)
                 for i, record in enumerate(itertools.cycle(synthetic_records(
                     encoders=args.encoders, recipes=args.recipes,
                     benchmarks=args.benchmarks, seeds=1))))
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            print(f"{'endpoint':40} {'p50 ms':>8} {'p95 ms':>8} {'bytes':>9}")
            for path in ENDPOINTS:
                times, size = timed_calls(client, path, args.repeat)
                print(f"{path:40} {statistics.median(times):8.1f} "
                      f"{percentile(times, 0.95):8.1f} {size:9d}")
            # "first": the first view after start-up; "changed": the first view after a new
            # run was ingested (median of --changes tries, each after its own new run);
            # p50/p95: the views that follow, from the page cache.
            print(f"{'page':28} {'first ms':>8} {'changed':>8} {'max':>8} {'p50 ms':>8} "
                  f"{'p95 ms':>8} {'bytes':>9}")
            cached_speedup: dict[str, float] = {}
            for path in PAGES:
                first, _ = timed_calls(client, path, 1)
                changed = []
                for _ in range(args.changes):
                    ingest_records(writer, [next(extra)])
                    changed += timed_calls(client, path, 1)[0]
                times, size = timed_calls(client, path, args.repeat)
                cached_speedup[path] = statistics.median(changed) / statistics.median(times)
                print(f"{path:28} {first[0]:8.1f} {statistics.median(changed):8.1f} "
                      f"{max(changed):8.1f} {statistics.median(times):8.1f} "
                      f"{percentile(times, 0.95):8.1f} {size:9d}")
        writer.dispose()
        server.should_exit = True
        thread.join(timeout=10)
    page = PAGES[0]
    print(ratio_line(f"store_api (page {page}: first view after an ingest / cached view)",
                     cached_speedup[page]))


if __name__ == "__main__":
    main()
