"""The README's first command, timed: ``harness sweep --encoders all --preset smoke`` in a fresh
run root, with the machine's load before and after, the run count, and where the time went
(the sum over runs of each phase their records keep, ``train.phases``).

    python bench/smoke_sweep.py [--core-only] [--repeats 1] [--budget 300]

``--core-only`` runs the encoders a bare ``pip install -e .`` has (those needing no extra),
as a newcomer's first sweep would. The goal is the whole sweep under ``--budget`` seconds on
2 cores at a load below 1: a load above 1 before the start means something else is running,
and the figure says so rather than hides it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from report import ratio_line  # noqa: E402  (bench/ holds the script)

from harness.encoder import ENCODERS, available_encoder_ids
from harness.record import RECORD_FILE, read_record

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# The console script beside this interpreter: what a user runs.
HARNESS = str(Path(sys.executable).with_name("harness"))


def core_encoders() -> str:
    """The encoders of a bare install: registered, with nothing beyond the core to import."""
    return ",".join(e for e in available_encoder_ids() if not ENCODERS.get(e).requires)


def one_sweep(encoders: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-smoke-") as tmp:
        root = Path(tmp)
        load_before = os.getloadavg()[0]
        start = time.perf_counter()
        subprocess.run([HARNESS, "sweep", "--encoders",
                        encoders, "--preset", "smoke", "--root", str(root / "runs"),
                        "--db", f"sqlite:///{root / 'harness.db'}", "--format", "json"],
                       check=True, stdout=subprocess.DEVNULL, cwd=root)
        seconds = time.perf_counter() - start
        phases: Counter[str] = Counter()
        runs = 0
        for path in (root / "runs" / "runs").glob(f"*/{RECORD_FILE}"):
            runs += 1
            phases.update(read_record(path).train.get("phases", {}))
        return {"seconds": seconds, "runs": runs, "load_before": load_before,
                "load_after": os.getloadavg()[0], "phases": dict(phases)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--core-only", action="store_true")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--budget", type=float, default=300.0)
    args = parser.parse_args()
    encoders = core_encoders() if args.core_only else "all"
    results = [one_sweep(encoders) for _ in range(args.repeats)]
    for i, r in enumerate(results, 1):
        total = sum(r["phases"].values())
        shares = ", ".join(f"{k} {v:.0f} s ({100 * v / total:.0f}%)" for k, v in
                           sorted(r["phases"].items(), key=lambda kv: -kv[1]))
        print(f"sweep {i}: {r['runs']} runs in {r['seconds']:.0f} s on {os.cpu_count()} cores, "
              f"load {r['load_before']:.2f} before, {r['load_after']:.2f} after")
        print(f"  where the time went (summed over runs; import is once per job): {shares}")
    seconds = statistics.median(r["seconds"] for r in results)
    if len(results) > 1:
        spread = [r["seconds"] for r in results]
        print(f"median {seconds:.0f} s, spread {min(spread):.0f}-{max(spread):.0f} s")
    print(ratio_line(f"smoke_sweep ({results[0]['runs']} runs, seconds / {args.budget:.0f} s)",
                     seconds / args.budget, "<= 1.00"))


if __name__ == "__main__":
    main()
