"""Side-by-side cost of every registered encoder's tiny twin on this machine: build time, the
FLOPs of one forward+backward of a batch (exact, independent of machine load), and its median
wall time (what one smoke-sweep training step adds).

    python bench/encoder_twins.py [--batch 16] [--repeats 7] [--ids a,b] [--format json]

Figures are medians of several runs measured in the same process, so their ratios compare;
the absolute numbers depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from report import ratio_line  # noqa: E402  (bench/ holds the script)
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from harness.encoder import ENCODERS, available_encoder_ids  # noqa: E402
from harness.loaders import build_encoder  # noqa: E402


def measure(encoder_id: str, batch: int, repeats: int) -> dict:
    spec = ENCODERS.get(encoder_id)
    start = time.perf_counter()
    torch.manual_seed(0)
    encoder = build_encoder(spec, tiny=True)
    build_s = time.perf_counter() - start
    pixels = torch.randn(batch, 3, encoder.image_size, encoder.image_size)
    encoder.set_trainable(True)
    with FlopCounterMode(display=False) as counter:
        encoder(pixels).float().pow(2).mean().backward()
    encoder.zero_grad(set_to_none=True)
    times = []
    for _ in range(repeats + 1):  # the first run warms caches and is dropped
        start = time.perf_counter()
        encoder(pixels).float().pow(2).mean().backward()
        times.append(time.perf_counter() - start)
        encoder.zero_grad(set_to_none=True)
    encoder.set_trainable(False)
    frozen = []
    for _ in range(repeats):
        start = time.perf_counter()
        with torch.no_grad():
            encoder(pixels)
        frozen.append(time.perf_counter() - start)
    return {
        "id": encoder_id, "loader": spec.loader, "grid": list(encoder.grid),
        "dim": encoder.embed_dim, "params": encoder.num_parameters(),
        "image_size": encoder.image_size, "build_ms": round(build_s * 1e3, 1),
        "fwd_bwd_gflop": round(counter.get_total_flops() / 1e9, 2),
        "fwd_bwd_ms": round(statistics.median(times[1:]) * 1e3, 1),
        "fwd_frozen_ms": round(statistics.median(frozen) * 1e3, 1),
    }


def llm_reference(batch: int, tokens: int) -> dict:
    """The smoke preset's LLM on one training batch: what each encoder twin is added to."""
    from harness.model.llm import LLMS, build_llm

    llm, tokenizer = build_llm(LLMS.get("tiny-llama"),
                               ["How many red circles are there? Answer: (A) 3"] * 50)
    embeds = torch.randn(batch, tokens, llm.config.hidden_size)
    labels = torch.randint(0, len(tokenizer), (batch, tokens))
    with FlopCounterMode(display=False) as counter:
        llm(inputs_embeds=embeds, labels=labels).loss.backward()
    llm.zero_grad(set_to_none=True)
    times = []
    for _ in range(4):
        start = time.perf_counter()
        llm(inputs_embeds=embeds, labels=labels).loss.backward()
        times.append(time.perf_counter() - start)
        llm.zero_grad(set_to_none=True)
    return {"gflop": round(counter.get_total_flops() / 1e9, 2),
            "ms": round(statistics.median(times[1:]) * 1e3, 1), "tokens": tokens}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--ids", default="", help="comma-separated ids (default: all available)")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    args = parser.parse_args()
    ids = [i for i in args.ids.split(",") if i] or available_encoder_ids()
    rows = [measure(i, args.batch, args.repeats) for i in ids]
    # 64 image tokens plus a probe question and answer, as in the smoke preset.
    llm = llm_reference(args.batch, tokens=64 + 48)
    if args.format == "json":
        print(json.dumps({"threads": torch.get_num_threads(), "batch": args.batch,
                          "rows": rows, "tiny_llama_step": llm}, indent=2))
        return
    print(f"batch {args.batch}, {torch.get_num_threads()} threads, medians of {args.repeats}")
    print(f"{'id':36} {'loader':12} {'grid':5} {'dim':>4} {'params':>8} {'build ms':>9}"
          f" {'GFLOP':>6} {'fwd+bwd ms':>10} {'frozen fwd ms':>13}")
    for r in sorted(rows, key=lambda r: -r["fwd_bwd_ms"]):
        grid = f"{r['grid'][0]}x{r['grid'][1]}"
        print(f"{r['id']:36} {r['loader']:12} {grid:5} {r['dim']:>4} {r['params']:>8}"
              f" {r['build_ms']:>9} {r['fwd_bwd_gflop']:>6} {r['fwd_bwd_ms']:>10}"
              f" {r['fwd_frozen_ms']:>13}")
    print(f"for scale, the tiny Llama's forward+backward on the same batch ({llm['tokens']}"
          f" tokens each): {llm['gflop']} GFLOP, {llm['ms']} ms")
    slowest = max(r["fwd_bwd_ms"] for r in rows)
    print(ratio_line("encoder_twins (slowest twin's forward+backward / the tiny Llama's)",
                     slowest / llm["ms"]))


if __name__ == "__main__":
    main()
