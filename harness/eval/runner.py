"""The evaluation runner: batched greedy generation with the KV cache, answer extraction,
per-item predictions kept on disk, and scores for the store."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from PIL import Image

from harness.data.conversations import pad_batch, prompt_ids
from harness.eval.benchmarks import Benchmark, file_hash
from harness.eval.scoring import Judged, extract_letter
from harness.model.llm import IMAGE_TOKEN
from harness.model.mllm import MLLM
from harness.sweep.record import Score, atomic_write_text


@dataclass(frozen=True)
class Prediction:
    idx: int
    task: str
    type: str
    source: str
    answer: str
    output: str
    extracted: str | None
    correct: bool
    n_choices: int


def predict(model: MLLM, tokenizer, benchmark: Benchmark, rows: list[dict], data_dir: Path,
            transform, *, batch_size: int, system: str = "",
            max_new_tokens: int = 6) -> list[Prediction]:
    model.eval()
    out: list[Prediction] = []
    for start in range(0, len(rows), batch_size):
        chunk = rows[start:start + batch_size]
        items = []
        for row in chunk:
            with Image.open(Path(data_dir) / row["image"]) as img:
                pixels = transform(img.convert("RGB"))
            ids = prompt_ids(f"{IMAGE_TOKEN}\n{benchmark.prompt(row)}", tokenizer,
                             num_image_tokens=model.num_image_tokens, system=system)
            items.append({"input_ids": torch.tensor(ids), "pixels": pixels})
        # Left padding keeps every prompt's last token at the end, where generation starts.
        batch = pad_batch(items, tokenizer.pad_token_id, side="left")
        new = model.generate(batch["input_ids"], batch["attention_mask"], batch["pixels"],
                             max_new_tokens=max_new_tokens)
        for row, tokens in zip(chunk, new, strict=True):
            text = tokenizer.decode(tokens, skip_special_tokens=True).strip()
            letter = extract_letter(text, row["choices"])
            answer = row["answer"].strip("()")
            out.append(Prediction(
                idx=row["idx"], task=row["task"], type=row["type"], source=row["source"],
                answer=answer, output=text, extracted=letter, correct=letter == answer,
                n_choices=len(row["choices"]),
            ))
    return out


def score(benchmark: Benchmark, predictions: list[Prediction], dataset_hash: str) -> list[Score]:
    judged = [Judged(p.correct, p.task, p.type, p.source, p.n_choices) for p in predictions]
    return [
        Score(benchmark=benchmark.name, metric="accuracy", subset=m.subset, value=m.value,
              n=m.n, category=benchmark.category, benchmark_version=benchmark.version,
              prompt_hash=benchmark.prompt_hash, label_patch=benchmark.label_patch,
              dataset_hash=dataset_hash, chance=m.chance)
        for m in benchmark.score(judged)
    ]


def evaluate(model: MLLM, tokenizer, benchmark: Benchmark, data_dir: Path, transform, *,
             batch_size: int, predictions_file: Path, system: str = "") -> list[Score]:
    """Predict every item, keep the predictions as JSONL, and return the scores."""
    rows = benchmark.load(data_dir)
    predictions = predict(model, tokenizer, benchmark, rows, data_dir, transform,
                          batch_size=batch_size, system=system)
    atomic_write_text(predictions_file,
                      "".join(json.dumps(asdict(p)) + "\n" for p in predictions))
    return score(benchmark, predictions, file_hash(Path(data_dir) / "test.jsonl"))
