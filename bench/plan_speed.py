"""How long planning a paper-sized sweep takes on real data, cold and with a warm cache: every
encoder x 4 recipes x 25 seeds (2,100 runs with the 21 built-in encoders) under a preset that
trains on two data-root sources and scores one benchmark, in a data root this script writes.

    python bench/plan_speed.py [--entries 20000] [--seeds 25] [--repeat 5] [--format json]

"cold" plans into a fresh run root (annotation files hashed, a sample of images opened);
"warm" plans again into the same root (hashes read from the cache, nothing hashed). Both are
timed in this process, alternating, so their ratio compares; seconds depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


from report import ratio_line  # noqa: E402  (bench/ holds the script)

from harness.data import layouts  # noqa: E402
from harness.data.sample import write_llava_sources  # noqa: E402
from harness.encoder import ENCODERS  # noqa: E402
from harness.preset import load_preset_file  # noqa: E402
from harness.recipe import RECIPES  # noqa: E402
from harness.sweep.plan import plan_sweep  # noqa: E402

RECIPE_NAMES = ("frozen", "unfrozen", "cambrian-1stage-frozen", "cambrian-2stage-frozen-0.5m")
PRESET = """
name = "bench-plan"
description = "planning benchmark"
llm = "tiny-llama"
tiny_encoders = true
benchmarks = ["mmvp"]
[sources]
align = "llava-558k"
finetune = "llava-665k"
# The Cambrian recipes ask for 1.2M and 737K samples; this data root is smaller.
[stages.align]
samples = "all"
[stages.finetune]
samples = "all"
"""


def write_data_root(root: Path, entries: int) -> Path:
    """Both LLaVA sources with ``entries`` conversations each (one small image per entry) and
    MMVP's 300 questions, in their release layouts."""
    write_llava_sources(root, entries)
    layouts.mmvp_full(root / "mmvp")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=20000)
    parser.add_argument("--seeds", type=int, default=25)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--format", choices=("table", "json"), default="table")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = write_data_root(tmp / "data", args.entries)
        preset_file = tmp / "preset.toml"
        preset_file.write_text(PRESET)
        preset = load_preset_file(preset_file)
        recipes = [RECIPES.get(r) for r in RECIPE_NAMES]
        encoders = ENCODERS.names()
        seeds = list(range(args.seeds))

        def plan(root: Path) -> tuple[float, int]:
            start = time.perf_counter()
            runs = plan_sweep(encoders, recipes, preset, seeds, root, data_root=data)
            return time.perf_counter() - start, len(runs)

        cold, warm = [], []
        for i in range(args.repeat):
            seconds, n = plan(tmp / f"cold-{i}")
            cold.append(seconds)
            seconds, _ = plan(tmp / f"cold-{i}")
            warm.append(seconds)
    result = {"runs": n, "entries_per_source": args.entries, "repeat": args.repeat,
              "cold_s": _spread(cold), "warm_s": _spread(warm),
              "cold_over_warm": round(statistics.median(cold) / statistics.median(warm), 2)}
    if args.format == "json":
        print(json.dumps(result, indent=2))
        return
    print(f"planning {n:,} runs ({args.entries:,} entries per source, {args.repeat} repeats):")
    for name in ("cold_s", "warm_s"):
        s = result[name]
        print(f"  {name[:-2]:>4}: median {s['median']:.2f} s (min {s['min']:.2f}, "
              f"max {s['max']:.2f})")
    print(f"  cold / warm: {result['cold_over_warm']}x")
    print(ratio_line("plan_speed (cold / warm)", result["cold_over_warm"]))


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3),
            "max": round(max(values), 3)}


if __name__ == "__main__":
    main()
