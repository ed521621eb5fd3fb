"""LLaVA-format conversations (JSON or JSONL, ``<image>`` marker) as a training dataset: read,
tokenized (``harness.model.chat``, the loss on assistant tokens only), with each item's image
decoded and transformed, and batched."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from harness.model.chat import tokenize_conversation
from harness.model.ensemble import stack_pixels
from harness.model.mllm import IGNORE_INDEX


def load_conversations(path: Path) -> list[dict[str, Any]]:
    text = Path(path).read_text()
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return json.loads(text)


UNREADABLE = "unreadable"
"""The key of an item whose image could not be read (``(path, reason)``), and of a batch's
``path -> reason`` of those: they travel with the batch, so what a DataLoader worker process
found reaches the training loop."""


def collate_items(items: list[dict[str, Any]], pad) -> dict[str, Any]:
    """``pad`` over the readable items (nothing when none is), plus ``unreadable``."""
    kept = [i for i in items if UNREADABLE not in i]
    return {**(pad(kept) if kept else {}),
            UNREADABLE: dict(i[UNREADABLE] for i in items if UNREADABLE in i)}


class ConversationDataset(torch.utils.data.Dataset):
    """Tokenized once up front (cheap); images are read and transformed per item, in the
    DataLoader's worker processes when it has any.

    An image that is missing or cannot be decoded is skipped, not fatal: its item says so
    (``unreadable``), ``collate`` drops it and passes the finding on with the batch, and the
    trainer lists it in ``bad_images`` and fails the run only when the share passes the
    recipe's bound.
    """

    def __init__(self, records: list[dict[str, Any]], image_root: Path, tokenizer, transform,
                 *, num_image_tokens: int, max_length: int, system: str = "") -> None:
        self.records = records
        self.image_root = Path(image_root)
        self.transform = transform
        self.tokenized = [
            tokenize_conversation(r["conversations"], tokenizer,
                                  num_image_tokens=num_image_tokens, max_length=max_length,
                                  system=system)
            for r in records
        ]
        self.pad_id = tokenizer.pad_token_id
        self.bad_images: dict[str, str] = {}
        """Filled by the training loop from the batches' ``unreadable``."""

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> dict[str, Any]:
        path = self.image_root / self.records[i]["image"]
        try:
            with Image.open(path) as img:
                pixels = self.transform(img.convert("RGB"))
        except (OSError, ValueError) as exc:  # missing, truncated or not an image at all
            return {UNREADABLE: (str(path), f"{type(exc).__name__}: {exc}")}
        t = self.tokenized[i]
        return {"input_ids": torch.tensor(t.input_ids), "labels": torch.tensor(t.labels),
                "pixels": pixels}

    def collate(self, batch: list[dict[str, Any]]) -> dict[str, Any]:
        return collate_items(batch, lambda kept: pad_batch(kept, self.pad_id, side="right"))


def pad_batch(batch: list[dict[str, Any]], pad_id: int, side: str) -> dict:
    """Stack a batch, padding ids (and labels, if present) on ``side``; left for generation.
    Pixels are stacked per encoder when they are ``MultiPixels``."""
    width = max(len(b["input_ids"]) for b in batch)
    out: dict[str, torch.Tensor] = {}
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
    for row, b in enumerate(batch):
        n = len(b["input_ids"])
        cols = slice(0, n) if side == "right" else slice(width - n, width)
        ids[row, cols] = b["input_ids"]
        mask[row, cols] = 1
        if "labels" in b:
            labels[row, cols] = b["labels"]
    out["input_ids"], out["attention_mask"] = ids, mask
    if "labels" in batch[0]:
        out["labels"] = labels
    # One tensor per encoder when several encoders each see the image at their own size.
    out["pixels"] = stack_pixels([b["pixels"] for b in batch])
    return out
