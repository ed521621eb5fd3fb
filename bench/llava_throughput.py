"""Training-step throughput of this project's MLLM against transformers' own
LlavaForConditionalGeneration, built from the identical tiny configuration and measured in the
same process, alternating step by step (fp32, CPU).

    python bench/llava_throughput.py [--steps 10] [--repeats 5] [--batch 4] [--format json]

Both models get the same CLIP vision tower (transformers' CLIPVisionModel, features of the
second-to-last layer without CLS), the same mlp2x_gelu projector, the same Llama, the same
weights (copied from the Llava model into ours) and the same batch: a sequence holding the image
tokens, a prompt and an answer, with the loss on the answer only. The encoder is frozen, the
projector and the LLM train with AdamW, as in LLaVA's finetune stage. The first losses are
printed side by side: equal losses show that the two compute the same thing.

The ratio is ours / theirs in steps per second (above 1.0: ours is faster); absolute times
depend on the machine and on what else runs on it.
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
from transformers import (  # noqa: E402
    CLIPVisionConfig,
    CLIPVisionModel,
    LlamaConfig,
    LlamaForCausalLM,
    LlavaConfig,
    LlavaForConditionalGeneration,
)

from harness.encoder import EncoderSpec  # noqa: E402
from harness.loaders.hf_models import HFEncoder  # noqa: E402
from harness.model.connector_parts import FeatureShape
from harness.model.connectors import CONNECTORS  # noqa: E402
from harness.model.mllm import IGNORE_INDEX, MLLM  # noqa: E402


def configs(args) -> tuple[CLIPVisionConfig, LlamaConfig, int]:
    vision = CLIPVisionConfig(
        hidden_size=args.vision_width, intermediate_size=4 * args.vision_width,
        num_hidden_layers=args.vision_layers, num_attention_heads=max(1, args.vision_width // 64),
        image_size=args.image_size, patch_size=args.patch)
    text = LlamaConfig(
        vocab_size=args.vocab, hidden_size=args.llm_width,
        intermediate_size=int(2.6875 * args.llm_width), num_hidden_layers=args.llm_layers,
        num_attention_heads=max(1, args.llm_width // 64),
        num_key_value_heads=max(1, args.llm_width // 64), max_position_embeddings=4096,
        tie_word_embeddings=False, use_cache=False, bos_token_id=1, eos_token_id=2,
        pad_token_id=0)
    return vision, text, args.vocab - 1  # the last id is the image token


def build(args) -> tuple[MLLM, LlavaForConditionalGeneration, int]:
    vision, text, image_token = configs(args)
    grid = args.image_size // args.patch
    torch.manual_seed(0)
    theirs = LlavaForConditionalGeneration(LlavaConfig(
        vision_config=vision, text_config=text, image_token_id=image_token,
        image_seq_length=grid * grid, projector_hidden_act="gelu", vision_feature_layer=-2,
        vision_feature_select_strategy="default"))
    spec = EncoderSpec(id="clip-bench.random", group="clip", supervision="language",
                       architecture="vit", resolution=args.image_size, loader="transformers",
                       source="bench", feature_layer=-2,
                       mean=(0.48145466, 0.4578275, 0.40821073),
                       std=(0.26862954, 0.26130258, 0.27577711))
    tower = CLIPVisionModel(vision)
    tower.load_state_dict(theirs.model.vision_tower.state_dict())
    encoder = HFEncoder(spec, tower.eval(), args.image_size)
    connector = CONNECTORS.get("mlp2x_gelu").create(
        [FeatureShape(encoder.embed_dim, encoder.grid)], text.hidden_size)
    projector = theirs.model.multi_modal_projector
    connector.proj[0].load_state_dict(projector.linear_1.state_dict())
    connector.proj[2].load_state_dict(projector.linear_2.state_dict())
    llm = LlamaForCausalLM(text)
    llm.model.load_state_dict(theirs.model.language_model.state_dict())
    llm.lm_head.load_state_dict(theirs.lm_head.state_dict())
    ours = MLLM(encoder, connector, llm, image_token)

    # LLaVA's finetune stage: the encoder frozen, projector and LLM trained.
    ours.train()
    ours.encoder.set_trainable(False)
    theirs.train()
    theirs.model.vision_tower.requires_grad_(False)
    theirs.model.vision_tower.eval()
    return ours, theirs, image_token


def batch(args, image_token: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    n_image = (args.image_size // args.patch) ** 2
    prompt = torch.randint(3, args.vocab - 1, (args.batch, args.text - args.answer), generator=g)
    answer = torch.randint(3, args.vocab - 1, (args.batch, args.answer), generator=g)
    ids = torch.cat([torch.ones(args.batch, 1, dtype=torch.long),
                     torch.full((args.batch, n_image), image_token), prompt, answer], 1)
    labels = torch.full_like(ids, IGNORE_INDEX)
    labels[:, -args.answer:] = answer
    pixels = torch.randn(args.batch, 3, args.image_size, args.image_size, generator=g)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels,
            "pixels": pixels}


def steppers(ours: MLLM, theirs: LlavaForConditionalGeneration, b: dict):
    opt_ours = torch.optim.AdamW([p for p in ours.parameters() if p.requires_grad], lr=1e-4)
    opt_theirs = torch.optim.AdamW([p for p in theirs.parameters() if p.requires_grad],
                                   lr=1e-4)

    def step_ours() -> float:
        loss = ours(b["input_ids"], b["attention_mask"], b["pixels"], labels=b["labels"])
        loss.backward()
        opt_ours.step()
        opt_ours.zero_grad(set_to_none=True)
        return loss.item()

    def step_theirs() -> float:
        loss = theirs(input_ids=b["input_ids"], attention_mask=b["attention_mask"],
                      pixel_values=b["pixels"], labels=b["labels"]).loss
        loss.backward()
        opt_theirs.step()
        opt_theirs.zero_grad(set_to_none=True)
        return loss.item()

    return step_ours, step_theirs


def timed(fn) -> tuple[float, float]:
    start = time.perf_counter()
    loss = fn()
    return time.perf_counter() - start, loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10,
                        help="measured steps per model in each repetition")
    parser.add_argument("--repeats", type=int, default=5,
                        help="interleaved repetitions, each giving one ratio")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--patch", type=int, default=14)
    parser.add_argument("--vision-width", type=int, default=256)
    parser.add_argument("--vision-layers", type=int, default=4)
    parser.add_argument("--llm-width", type=int, default=256)
    parser.add_argument("--llm-layers", type=int, default=4)
    parser.add_argument("--vocab", type=int, default=1024)
    parser.add_argument("--text", type=int, default=64, help="text tokens besides the image")
    parser.add_argument("--answer", type=int, default=8, help="answer tokens (with loss)")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    args = parser.parse_args()

    ours, theirs, image_token = build(args)
    b = batch(args, image_token)
    step_ours, step_theirs = steppers(ours, theirs, b)
    first = (step_ours(), step_theirs())  # the same weights and batch: the same loss
    for _ in range(args.warmup - 1):
        step_ours()
        step_theirs()
    times: dict[str, list[float]] = {"ours": [], "theirs": []}
    ratios = []
    for _ in range(args.repeats):
        # One repetition: its steps alternate, swapping which goes first, so machine noise
        # falls on both; its ratio is of its own medians.
        rep: dict[str, list[float]] = {"ours": [], "theirs": []}
        for k in range(args.steps):
            order = [("ours", step_ours), ("theirs", step_theirs)]
            for name, fn in order if k % 2 == 0 else order[::-1]:
                rep[name].append(timed(fn)[0])
        ratios.append(statistics.median(rep["theirs"]) / statistics.median(rep["ours"]))
        for name in times:
            times[name] += rep[name]
    med = {name: statistics.median(t) for name, t in times.items()}
    result = {
        "ours_steps_per_s": round(1 / med["ours"], 3),
        "theirs_steps_per_s": round(1 / med["theirs"], 3),
        "ratio_ours_over_theirs": round(statistics.median(ratios), 3),
        "ratio_spread": [round(min(ratios), 3), round(max(ratios), 3)],
        "repeats": args.repeats,
        "median_step_s": {k: round(v, 4) for k, v in med.items()},
        "first_loss": {"ours": round(first[0], 6), "theirs": round(first[1], 6)},
        "sequence": int(b["input_ids"].shape[1]), "image_tokens": ours.num_image_tokens,
        "batch": args.batch, "steps": args.steps, "threads": torch.get_num_threads(),
        "torch": torch.__version__, "transformers": __import__("transformers").__version__,
        "load_average": [round(x, 1) for x in os.getloadavg()],
    }
    if args.format == "json":
        print(json.dumps(result, indent=2))
        return
    print(f"batch {args.batch} x {result['sequence']} tokens ({result['image_tokens']} image"
          f" tokens), CLIP {args.vision_layers}x{args.vision_width} patch {args.patch} @"
          f" {args.image_size}px, Llama {args.llm_layers}x{args.llm_width}, fp32,"
          f" {result['threads']} threads")
    print(f"first loss: ours {first[0]:.6f}, transformers Llava {first[1]:.6f}")
    print(f"ours:   {result['ours_steps_per_s']:.2f} steps/s (median {med['ours']:.3f} s)")
    print(f"theirs: {result['theirs_steps_per_s']:.2f} steps/s (median {med['theirs']:.3f} s)")
    print(f"ratio ours/theirs: median {result['ratio_ours_over_theirs']:.2f}x over"
          f" {args.repeats} repetitions (min {result['ratio_spread'][0]:.2f}, max"
          f" {result['ratio_spread'][1]:.2f}; load average {result['load_average']})")
    print(ratio_line("llava_throughput (training speed, ours / transformers' Llava)",
                     result["ratio_ours_over_theirs"], ">= 1.25"))


if __name__ == "__main__":
    main()
