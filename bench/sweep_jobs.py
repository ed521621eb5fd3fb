"""What grouping runs into jobs saves on the local executor: the same smoke sweep with one
run per job (each job pays the process start and the torch/transformers/timm imports) and
with the default (runs spread over --parallel jobs), each in a fresh run root.

    python bench/sweep_jobs.py [--encoders all] [--preset smoke] [--parallel 2] [--seeds 0]
                               [--format json]

A smaller preset (a .toml file) shows the per-job start-up cost more plainly, since the runs
themselves then cost little.

Both sweeps run one after the other in this process's machine state, so their ratio
compares; absolute seconds depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from report import ratio_line  # noqa: E402  (bench/ holds the script)

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def import_seconds() -> float:
    """What every job pays before its first run: a fresh interpreter importing the stack."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch, transformers, timm, open_clip"],
                   check=True)
    return time.perf_counter() - start


def sweep(root: Path, encoders: str, preset: str, parallel: int, seeds: str,
          per_job: int | None) -> dict:
    cmd = [sys.executable, "-c", "from harness.cli.app import main; main()", "sweep",
           "--encoders", encoders, "--preset", preset, "--seeds", seeds, "--executor",
           "local", "--parallel", str(parallel), "--root", str(root / "runs"),
           "--db", f"sqlite:///{root / 'h.db'}", "--format", "json"]
    if per_job:
        cmd += ["--runs-per-job", str(per_job)]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"sweep failed ({done.returncode}):\n{done.stdout[-2000:]}"
                         f"\n{done.stderr[-2000:]}")
    records = [json.loads(p.read_text()) for p in (root / "runs").rglob("record.json")]
    jobs = {r["job_id"] for r in records}
    return {"seconds": round(seconds, 1), "runs": len(records), "jobs": len(jobs),
            "run_seconds": round(sum(r["wall_seconds"] for r in records), 1),
            "failed": sum(r["status"] != "done" for r in records)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoders", default="all")
    parser.add_argument("--preset", default="smoke")
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        imports = import_seconds()
        per_run = sweep(Path(tmp) / "per-run", args.encoders, args.preset, args.parallel,
                        args.seeds, 1)
        grouped = sweep(Path(tmp) / "grouped", args.encoders, args.preset, args.parallel,
                        args.seeds, None)
    result = {"imports_s": round(imports, 1), "one_run_per_job": per_run, "grouped": grouped,
              "speedup": round(per_run["seconds"] / grouped["seconds"], 2),
              "preset": args.preset, "parallel": args.parallel, "cpus": os.cpu_count(),
              "load_average": [round(x, 1) for x in os.getloadavg()]}
    if args.format == "json":
        print(json.dumps(result, indent=2))
        return
    print(f"imports in a fresh interpreter: {imports:.1f} s (paid once per job)")
    for name in ("one_run_per_job", "grouped"):
        r = result[name]
        print(f"{name:>16}: {r['runs']} runs in {r['jobs']} jobs, {r['seconds']:.0f} s wall"
              f" (runs themselves {r['run_seconds']:.0f} s), {r['failed']} failed")
    print(f"speedup {result['speedup']:.2f}x with --parallel {args.parallel} on"
          f" {result['cpus']} CPUs (load average {result['load_average']})")
    print(ratio_line("sweep_jobs (wall time, one run per job / grouped)", result["speedup"]))


if __name__ == "__main__":
    main()
