"""Option log-likelihood vs greedy generation on the same model and benchmark: time ratio and
agreement, measured in one run (ratios, not absolute times, are the claim).

A tiny MLLM (a tiny CLIP twin + tiny Llama, random init) is first trained for a few steps on
the procedural probe so that it answers with letters; then the probe's test set is scored
both ways, several times, and the medians compared.

    python bench/loglik_vs_generate.py [--steps 150] [--n-test 60] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch
from report import ratio_line  # noqa: E402  (bench/ holds the script)

from harness.data.conversations import ConversationDataset, load_conversations
from harness.data.probe import write_probe
from harness.encoder import ENCODERS
from harness.eval.benchmarks import BENCHMARKS
from harness.eval.runner import predict
from harness.loaders import build_encoder
from harness.model.connector_parts import FeatureShape
from harness.model.connectors import CONNECTORS
from harness.model.llm import LLMS, build_llm, image_token_id
from harness.model.mllm import MLLM


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--n-test", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--encoder", default="clip-vit-l14-336.openai")
    args = parser.parse_args()
    torch.manual_seed(0)

    root = Path(tempfile.mkdtemp(prefix="bench-loglik-"))
    files = write_probe(root, seed=0, n_align=8, n_train=600, n_test=args.n_test,
                        image_size=64)
    train_rows = load_conversations(files.train)
    encoder = build_encoder(ENCODERS.get(args.encoder), tiny=True)
    llm, tok = build_llm(LLMS.get("tiny-llama"),
                         [t["value"] for r in train_rows for t in r["conversations"]])
    connector = CONNECTORS.get("mlp2x_gelu").create(
        [FeatureShape(encoder.embed_dim, encoder.grid)], llm.config.hidden_size)
    model = MLLM(encoder, connector, llm, image_token_id(tok))
    transform = encoder.transform()

    data = ConversationDataset(train_rows, files.root, tok, transform,
                               num_image_tokens=model.num_image_tokens, max_length=512)
    loader = torch.utils.data.DataLoader(data, batch_size=8, shuffle=True,
                                         collate_fn=data.collate, drop_last=True)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    model.train()
    step, t0 = 0, time.perf_counter()
    while step < args.steps:
        for batch in loader:
            loss = model(batch["input_ids"], batch["attention_mask"], batch["pixels"],
                         labels=batch["labels"])
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            if step >= args.steps:
                break
    print(f"trained {args.steps} steps in {time.perf_counter() - t0:.0f} s, "
          f"last loss {loss.item():.3f}")

    probe = BENCHMARKS.get("probe")
    rows = probe.load(files.root)
    timings: dict[str, list[float]] = {"generate": [], "loglik": []}
    results = {}
    for _ in range(args.repeats):
        for mode in ("generate", "loglik"):
            start = time.perf_counter()
            results[mode] = predict(model, tok, probe, rows, files.root, transform,
                                    batch_size=args.batch_size, mode=mode)
            timings[mode].append(time.perf_counter() - start)
    gen, ll = results["generate"], results["loglik"]
    n = len(gen)
    agree = sum(a.extracted == b.extracted for a, b in zip(gen, ll, strict=True))
    unparsed = sum(g.extracted is None for g in gen)
    t_gen, t_ll = statistics.median(timings["generate"]), statistics.median(timings["loglik"])
    acc_gen = 100 * sum(p.correct for p in gen) / n
    acc_ll = 100 * sum(p.correct for p in ll) / n
    print(f"items: {n}, repeats: {args.repeats}, batch size {args.batch_size}")
    print(f"generation:     median {t_gen:.2f} s, accuracy {acc_gen:.1f}%, "
          f"no letter in {unparsed} outputs")
    print(f"log-likelihood: median {t_ll:.2f} s, accuracy {acc_ll:.1f}%")
    # Each repetition times both modes back to back: its ratio shows the spread.
    ratios = [ll / gen for gen, ll in zip(timings["generate"], timings["loglik"], strict=True)]
    print(f"time ratio log-likelihood / generation: {t_ll / t_gen:.2f} (per repetition"
          f" {min(ratios):.2f}-{max(ratios):.2f}; load average"
          f" {[round(x, 1) for x in os.getloadavg()]}, {torch.get_num_threads()} threads)")
    print(f"agreement (same letter): {100 * agree / n:.1f}% of items")
    print(ratio_line("loglik_vs_generate (time, log-likelihood / generation)", t_ll / t_gen,
                     "<= 0.70"))


if __name__ == "__main__":
    main()
