"""What the frozen-encoder feature cache saves: the same frozen-recipe sweep (tiny twins,
several recipes and seeds) with the cache and without it, run by run, alternating, in one
process; prints the wall-time ratio and the encoder FLOPs the cache avoided.

    python bench/feature_cache.py [--encoders clip-vit-l14-336.openai] \\
        [--recipes frozen,cambrian-1stage-frozen] [--seeds 0,1] [--preset smoke] [--format json]

FLOPs are counted with ``torch.utils.flop_counter.FlopCounterMode`` on one encoder forward of
one image, times the image forwards the cached sweep did not make (counted, not estimated).
The same count at the encoder's full size (its real architecture at its native resolution,
built on the meta device, no weights) shows what the cache saves on a real sweep, where the
encoder, not the tiny LLM, dominates. The runs' losses and scores are compared too: a cached
run must give the numbers of an uncached one.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from report import ratio_line  # noqa: E402  (bench/ holds the script)
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from harness.encoder import ENCODERS  # noqa: E402
from harness.loaders import build_encoder  # noqa: E402
from harness.preset import PRESETS, Preset, load_preset_file  # noqa: E402
from harness.recipe import RECIPES  # noqa: E402
from harness.record import read_record  # noqa: E402
from harness.sweep.job import RunJob  # noqa: E402
from harness.sweep.plan import plan_sweep  # noqa: E402
from harness.testing import ForwardCounter


def flops_per_image(encoder_id: str, tiny: bool) -> int:
    """FLOPs of one forward of one image (the twin for real; full size on the meta device)."""
    spec = ENCODERS.get(encoder_id)
    device = torch.device("cpu") if tiny else torch.device("meta")
    with device:
        encoder = build_encoder(spec, tiny=tiny, pretrained=tiny)
        pixels = torch.zeros(1, 3, encoder.image_size, encoder.image_size)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        encoder(pixels)
    return counter.get_total_flops()


def load_preset(name: str) -> Preset:
    return load_preset_file(name) if name.endswith(".toml") else PRESETS.get(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoders", default="clip-vit-l14-336.openai")
    parser.add_argument("--recipes", default="frozen,cambrian-1stage-frozen")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--preset", default="smoke", help="a preset name or .toml file")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    args = parser.parse_args()
    encoders = args.encoders.split(",")
    recipes = [RECIPES.get(r) for r in args.recipes.split(",")]
    unfrozen = [r.name for r in recipes if r.encoder != "frozen"]
    if unfrozen:
        raise SystemExit(f"the cache serves frozen recipes only; drop {', '.join(unfrozen)}")
    seeds = [int(s) for s in args.seeds.split(",")]
    preset = load_preset(args.preset)

    seconds = {"plain": 0.0, "cached": 0.0}
    forwards = {"plain": 0, "cached": 0}
    hits, differences = [], []
    with tempfile.TemporaryDirectory() as tmp:
        plans = {
            mode: plan_sweep(encoders, recipes,
                             dataclasses.replace(preset, feature_cache=mode == "cached"),
                             seeds, Path(tmp) / mode)
            for mode in ("plain", "cached")
        }
        for k, (plain, cached) in enumerate(zip(plans["plain"], plans["cached"], strict=True)):
            # Alternating which goes first spreads machine noise over both sweeps.
            pair = [("plain", plain), ("cached", cached)]
            records = {}
            for mode, run in pair if k % 2 == 0 else pair[::-1]:
                start = time.perf_counter()
                with ForwardCounter() as counted:
                    status = RunJob(checkpoint_every_s=0).run_one(run)
                seconds[mode] += time.perf_counter() - start
                forwards[mode] += counted.n
                if status != "done":
                    raise SystemExit(f"{run.label} ({mode}) failed: "
                                     f"{read_record(Path(run.run_dir)).error}")
                records[mode] = read_record(Path(run.run_dir))
            hits.append(records["cached"].train["feature_cache"]["hit"])
            a, b = records["plain"], records["cached"]
            differences.append(max(
                [abs(a.train[s][f] - b.train[s][f]) for s in a.train if s != "feature_cache"
                 for f in ("first_loss", "final_loss")]
                + [abs(x.value - y.value) for x, y in zip(a.scores, b.scores, strict=True)]))

    avoided = forwards["plain"] - forwards["cached"]
    per_image = {e: flops_per_image(e, preset.tiny_encoders) for e in encoders}
    full_size = {e: flops_per_image(e, False) for e in encoders} if preset.tiny_encoders \
        else per_image
    # Every run holds one encoder, so a sweep's images split evenly over its encoders.
    saved = sum(per_image.values()) / len(encoders) * avoided
    saved_full = sum(full_size.values()) / len(encoders) * avoided
    result = {
        "runs": len(hits), "encoders": encoders, "recipes": [r.name for r in recipes],
        "seeds": seeds, "preset": preset.name,
        "wall_s": {k: round(v, 1) for k, v in seconds.items()},
        "wall_ratio_plain_over_cached": round(seconds["plain"] / seconds["cached"], 3),
        "encoder_image_forwards": forwards, "forwards_avoided": avoided,
        "gflops_per_image": {e: round(v / 1e9, 4) for e, v in per_image.items()},
        "encoder_gflops_saved": round(saved / 1e9, 2),
        "full_size_gflops_per_image": {e: round(v / 1e9, 1) for e, v in full_size.items()},
        "full_size_tflops_saved": round(saved_full / 1e12, 2),
        "cache_hits": f"{sum(hits)}/{len(hits)}",
        "max_difference_losses_scores": max(differences),
        "load_average": [round(x, 1) for x in os.getloadavg()],
    }
    if args.format == "json":
        print(json.dumps(result, indent=2))
        return
    print(f"{result['runs']} frozen runs x 2 ({', '.join(encoders)}; recipes"
          f" {', '.join(result['recipes'])}; seeds {args.seeds}; preset {preset.name})")
    print(f"without cache: {seconds['plain']:.1f} s, {forwards['plain']} encoder image forwards")
    print(f"with cache:    {seconds['cached']:.1f} s, {forwards['cached']} encoder image forwards"
          f" (hits {result['cache_hits']})")
    print(f"wall-time ratio without/with: {result['wall_ratio_plain_over_cached']:.2f}x")
    print(f"encoder FLOPs saved: {result['encoder_gflops_saved']:.2f} GFLOPs"
          f" ({avoided} forwards x {result['gflops_per_image']} GFLOPs/image)")
    print(f"at full size the same forwards are {result['full_size_tflops_saved']:.1f} TFLOPs"
          f" ({result['full_size_gflops_per_image']} GFLOPs/image)")
    print(f"largest loss/score difference cached vs not: {result['max_difference_losses_scores']}"
          f" (load average {result['load_average']})")
    print(ratio_line("feature_cache (wall time, without / with the cache)",
                     result["wall_ratio_plain_over_cached"]))


if __name__ == "__main__":
    main()
