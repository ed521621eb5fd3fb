"""bf16 training steps at real shapes on a GPU (reduced shapes on CPU): tokens/s, peak memory
and MFU of this project's MLLM, of the same under FSDP on one device, and of transformers'
LlavaForConditionalGeneration, all three in one run with the same weights and batch.

    python bench/gpu_step.py [--steps 10] [--repeats 3] [--batch 8] [--format json]

Nothing is downloaded: the weights are random, at the shapes of a ViT-L/14-336 vision tower
(frozen) and a Llama-shaped LLM of about 1B parameters (2048 wide, 16 layers, vocab 32000),
joined by the mlp2x_gelu projector, as in LLaVA's finetune stage (AdamW on projector and
LLM). Attention is PyTorch's SDPA (flash where the card has it). On CPU the shapes shrink to
a few hundred MB (``--small`` is the default there) and MFU is not reported (no peak to
divide by).

MFU = (6 x trainable parameters x tokens + 2 x frozen encoder parameters x image patches) /
step time / the card's dense bf16 peak (H100 SXM 989 TFLOP/s, H100 PCIe 756, H200 989, A100
312); the peak used and the card's name are printed. Beside each measured peak memory
(``torch.cuda.max_memory_allocated``) stands what the sweep's memory plan estimates for the
same step (``harness.sweep.cost``), so a GPU run checks the plan. Each case runs ``--steps``
timed steps per repeat after warm-up, the cases taking turns per repeat; the median step and
the spread over repeats are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).parent))

import torch  # noqa: E402
from llava_throughput import batch, build  # noqa: E402
from report import ratio_line  # noqa: E402  (bench/ holds the script)

PEAKS_TFLOPS = {"H100 PCIe": 756.0, "H100": 989.0, "H200": 989.0, "A100": 312.0,
                "L40S": 362.0}
"""Dense bf16 peaks by name fragment, the more specific first (an H100 not named PCIe is
taken as SXM)."""

PAPER = dict(image_size=336, patch=14, vision_width=1024, vision_layers=24, llm_width=2048,
             llm_layers=16, vocab=32000, text=128, answer=32)
SMALL = dict(image_size=112, patch=14, vision_width=256, vision_layers=4, llm_width=512,
             llm_layers=4, vocab=4096, text=64, answer=16)


def card(device: torch.device) -> tuple[str, float | None]:
    if device.type != "cuda":
        return "cpu", None
    name = torch.cuda.get_device_name(device)
    peak = next((v for k, v in PEAKS_TFLOPS.items() if k in name), None)
    return name, peak


def as_sdpa(model: torch.nn.Module) -> None:
    for module in model.modules():
        config = getattr(module, "config", None)
        if config is not None and hasattr(config, "_attn_implementation"):
            config._attn_implementation = "sdpa"


def cases(args, device: torch.device):
    """(name, step function, trainable params, frozen encoder params) per case."""
    from harness.parallel import ensure_process_group, shard

    ours, theirs, image_token = build(args)
    fsdp_ours, _, _ = build(args)  # the same seed: the same weights
    b = {k: v.to(device) for k, v in batch(args, image_token).items()}
    out = []
    for name, model in (("ours", ours), ("ours-fsdp", fsdp_ours), ("llava", theirs)):
        as_sdpa(model)
        model.to(device)
        if name == "ours-fsdp":
            ensure_process_group(device)
            shard(model, "bf16")
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=1e-5, fused=device.type == "cuda")
        encoder = model.encoder if name != "llava" else model.model.vision_tower
        frozen = sum(p.numel() for p in encoder.parameters())

        def step(model=model, optimizer=optimizer, name=name) -> float:
            with torch.autocast(device.type, dtype=torch.bfloat16):
                if name == "llava":
                    loss = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"],
                                 pixel_values=b["pixels"], labels=b["labels"]).loss
                else:
                    loss = model(b["input_ids"], b["attention_mask"], b["pixels"],
                                 labels=b["labels"])
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            return loss.item()  # a sync point: the step is done when timed

        out.append((name, step, sum(p.numel() for p in params), frozen))
    return out, b, estimates(args, ours, b["input_ids"].shape[1])


def estimates(args, ours, tokens_per_sample: int) -> dict[str, float]:
    """The sweep's memory plan for this step (``harness.sweep.cost``), in GiB, per case: what
    the measured peak checks."""
    from harness.sweep.cost import Sizes, StageWork, run_cost

    llm = ours.llm
    layers = llm.get_decoder().layers
    sizes = Sizes(encoder_params=sum(p.numel() for p in ours.encoder.parameters()),
                  encoder_param_tokens=0, image_tokens=ours.num_image_tokens, cached_values=0,
                  llm_params=sum(p.numel() for p in llm.parameters()),
                  llm_layers=len(layers), llm_hidden=llm.config.hidden_size,
                  llm_heads=llm.config.num_attention_heads,
                  llm_layer_params=sum(p.numel() for p in layers[0].parameters()))
    stage = StageWork("finetune", args.batch, tokens_per_sample - ours.num_image_tokens)
    out = {}
    for strategy in ("ddp", "fsdp"):
        cost = run_cost(sizes, [stage], encoder="frozen", eval_items=0, eval_new_tokens=0,
                        micro_batch=args.batch, gradient_checkpointing=False,
                        feature_cache=False, keep="none", gpu=None, gpus=1, mfu=1.0,
                        distributed=strategy)
        out[strategy] = cost.memory_gb_per_gpu * 1e9 / 2**30
    return {"ours": out["ddp"], "ours-fsdp": out["fsdp"], "llava": out["ddp"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="timed steps per case and repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--small", action="store_true",
                        help="reduced shapes (the default without a GPU)")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    shapes = SMALL if args.small or device.type == "cpu" else PAPER
    for key, value in shapes.items():
        setattr(args, key, value)
    name, peak = card(device)

    built, b, planned = cases(args, device)
    tokens = b["input_ids"].numel()
    patches = args.batch * ((args.image_size // args.patch) ** 2 + 1)
    times: dict[str, list[float]] = {n: [] for n, *_ in built}
    peaks: dict[str, float] = {}
    for n, step, *_ in built:  # warm-up, and each case's own peak memory
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        for _ in range(args.warmup):
            step()
        if device.type == "cuda":
            peaks[n] = torch.cuda.max_memory_allocated(device) / 2**30
    for _ in range(args.repeats):
        for n, step, *_ in built:
            start = time.perf_counter()
            for _ in range(args.steps):
                step()
            times[n].append((time.perf_counter() - start) / args.steps)

    rows = {}
    for n, _, trainable, frozen in built:
        median = statistics.median(times[n])
        flops = 6 * trainable * tokens + 2 * frozen * patches
        rows[n] = {"step_s": round(median, 4),
                   "spread_s": [round(min(times[n]), 4), round(max(times[n]), 4)],
                   "tokens_per_s": round(tokens / median, 1),
                   "peak_memory_gib": round(peaks[n], 2) if n in peaks else None,
                   "planned_memory_gib": round(planned[n], 2),
                   "mfu": None if peak is None else round(flops / median / (peak * 1e12), 4),
                   "trainable_params": trainable, "frozen_encoder_params": frozen}
    result = {"device": name, "peak_tflops_bf16": peak, "shapes": shapes, "batch": args.batch,
              "tokens_per_step": tokens, "steps": args.steps, "repeats": args.repeats,
              "torch": torch.__version__, "cases": rows,
              "ours_over_llava": round(rows["llava"]["step_s"] / rows["ours"]["step_s"], 3),
              "fsdp_over_llava": round(rows["llava"]["step_s"] / rows["ours-fsdp"]["step_s"],
                                       3)}
    if args.format == "json":
        print(json.dumps(result, indent=2))
        return
    print(f"{name} (bf16 peak {peak or 'n/a'} TFLOP/s), batch {args.batch} x"
          f" {b['input_ids'].shape[1]} tokens, torch {torch.__version__}")
    for n, row in rows.items():
        mfu = "n/a" if row["mfu"] is None else f"{100 * row['mfu']:.1f}%"
        memory = ("n/a" if row["peak_memory_gib"] is None else f"{row['peak_memory_gib']} GiB")
        memory += f" (memory plan {row['planned_memory_gib']} GiB)"
        print(f"{n:10s} {row['step_s']:.4f} s/step (repeats {row['spread_s'][0]:.4f}-"
              f"{row['spread_s'][1]:.4f}), {row['tokens_per_s']:,.0f} tokens/s, MFU {mfu},"
              f" peak {memory}")
    print(f"ours / llava speed: {result['ours_over_llava']:.2f}x; fsdp / llava:"
          f" {result['fsdp_over_llava']:.2f}x")
    print(ratio_line("gpu_step (speed, ours / transformers' Llava)", result["ours_over_llava"],
                     ">= 1.10 on an H100, with MFU >= 40%"))


if __name__ == "__main__":
    main()
