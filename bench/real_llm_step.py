"""What a training step of the real LLM (SmolLM2-135M-Instruct) costs on this machine's CPUs,
in fp32 and in bf16, side by side in one run: the numbers the `real-cpu` preset is sized by.

    python bench/real_llm_step.py [--batch 8] [--tokens 110] [--repeats 3]

Each step is a forward and backward pass over `batch` sequences of `tokens` input embeddings
(an image's 49 tokens plus a CV-Bench question and answer are about 110), the loss on the
answer's few tokens, then AdamW. Three
ways: fp32 weights; fp32 weights under bf16 autocast; bf16 weights. Two kinds of step: the
whole LLM trained (the finetune stage), and the LLM frozen with gradients flowing through it
to the input (the align stage trains only the connector below it). The kinds and precisions
take turns, so a slow spell of the machine falls on all of them alike. Needs the `real` extra.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import torch
from report import ratio_line  # noqa: E402  (bench/ holds the script)

from harness.model.llm import build_llm, resolve_llm

PRECISIONS = ("fp32", "bf16-autocast", "bf16")
ANSWER_TOKENS = 4
"""Tokens with a loss per sequence: a probe answer such as ``(B)`` and its end token."""


def step(model, embeds: torch.Tensor, labels: torch.Tensor, precision: str,
         optimizer: torch.optim.Optimizer | None) -> float:
    start = time.perf_counter()
    autocast = (torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16-autocast"
                else contextlib.nullcontext())
    with autocast:
        # As the MLLM trains: only the answer's positions are projected onto the 49k-word
        # vocabulary (the prompt and image tokens carry no loss).
        hidden = model.model(inputs_embeds=embeds).last_hidden_state[:, -ANSWER_TOKENS:]
        logits = model.get_output_embeddings()(hidden)
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1).float(),
                                                 labels[:, -ANSWER_TOKENS:].flatten())
    loss.backward()
    if optimizer is not None:
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=110)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    base, _ = build_llm(resolve_llm("smollm2-135m-instruct"), corpus=[])
    models = {"fp32": base, "bf16-autocast": base,
              "bf16": build_llm(resolve_llm("smollm2-135m-instruct"), corpus=[])[0].bfloat16()}
    hidden = base.config.hidden_size
    labels = torch.randint(0, base.config.vocab_size, (args.batch, args.tokens))
    times: dict[tuple[str, str], list[float]] = {}
    for repeat in range(args.repeats + 1):  # the first round warms up and is not counted
        for kind in ("finetune", "align"):
            for precision in PRECISIONS:
                model = models[precision]
                dtype = torch.bfloat16 if precision == "bf16" else torch.float32
                model.requires_grad_(kind == "finetune")
                embeds = torch.randn(args.batch, args.tokens, hidden, dtype=dtype,
                                     requires_grad=True)
                optimizer = (torch.optim.AdamW(model.parameters(), lr=1e-5)
                             if kind == "finetune" else None)
                seconds = step(model, embeds, labels, precision, optimizer)
                if repeat:
                    times.setdefault((kind, precision), []).append(seconds)
    print(f"SmolLM2-135M-Instruct, batch {args.batch} x {args.tokens} tokens, "
          f"{torch.get_num_threads()} threads, {args.repeats} repeats (median, min-max):")
    for (kind, precision), values in times.items():
        fp32 = statistics.median(times[(kind, "fp32")])
        median = statistics.median(values)
        print(f"  {kind:8s} {precision:14s} {median:6.2f} s/step ({min(values):.2f}-"
              f"{max(values):.2f}), {median / fp32:4.2f}x fp32, "
              f"{args.batch / median:5.2f} samples/s")
    finetune = statistics.median(times[("finetune", PRECISIONS[-1])]) / statistics.median(
        times[("finetune", "fp32")])
    print(ratio_line(f"real_llm_step (finetune step time, {PRECISIONS[-1]} / fp32)", finetune))


if __name__ == "__main__":
    main()
