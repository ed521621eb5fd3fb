"""LLaVA-format conversations (JSON or JSONL, ``<image>`` marker) turned into token ids
and labels, with the loss on assistant tokens only."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from harness.errors import HarnessError
from harness.model.ensemble import stack_pixels
from harness.model.llm import IMAGE_TOKEN, image_token_id
from harness.model.mllm import IGNORE_INDEX

ROLES = {"human": "USER", "gpt": "ASSISTANT"}


def load_conversations(path: Path) -> list[dict[str, Any]]:
    text = Path(path).read_text()
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return json.loads(text)


@dataclass(frozen=True)
class Tokenized:
    input_ids: list[int]
    labels: list[int]


def prompt_ids(question: str, tokenizer, *, num_image_tokens: int, system: str = "") -> list[int]:
    """The ids the model sees before answering a one-turn question: exactly the ids that
    ``tokenize_conversation`` builds for the same turn in training."""
    (prompt, _), = segments([{"from": "human", "value": question}], tokenizer, system)
    return encode_with_image(prompt, tokenizer, num_image_tokens)


def segments(turns: Sequence[dict[str, str]], tokenizer, system: str = ""
             ) -> list[tuple[str, bool]]:
    """The conversation as text pieces, each marked as trained (an assistant reply) or not.

    Uses the tokenizer's chat template when it has one, else LLaVA-1.5's plain
    ``USER: ... ASSISTANT:`` format. A conversation that ends on a user turn ends with the
    generation prompt (what evaluation feeds the model).
    """
    for turn in turns:
        if turn["from"] not in ROLES:
            raise HarnessError(f"bad turn role {turn['from']!r}; valid: {', '.join(ROLES)}")
    if getattr(tokenizer, "chat_template", None):
        return _template_segments(turns, tokenizer, system)
    return _plain_segments(turns, tokenizer, system)


def _plain_segments(turns, tokenizer, system: str) -> list[tuple[str, bool]]:
    pieces: list[tuple[str, bool]] = []
    text = (tokenizer.bos_token or "") + (f"{system} " if system else "")
    for turn in turns:
        if turn["from"] == "human":
            text += f"USER: {turn['value']} ASSISTANT:"
        else:
            pieces.append((text, False))
            pieces.append((f" {turn['value']}{tokenizer.eos_token}", True))
            # LLaVA's vicuna_v1 (SeparatorStyle.TWO) starts the next turn right after </s>.
            text = ""
    if turns and turns[-1]["from"] == "human":
        pieces.append((text, False))
    return pieces


def _template_segments(turns, tokenizer, system: str) -> list[tuple[str, bool]]:
    messages = [{"role": "system", "content": system}] if system else []
    pieces: list[tuple[str, bool]] = []
    done = ""  # the rendered text already assigned to pieces
    for turn in turns:
        if turn["from"] == "human":
            messages.append({"role": "user", "content": turn["value"]})
            continue
        prefix = tokenizer.apply_chat_template(messages, tokenize=False,
                                               add_generation_prompt=True)
        messages.append({"role": "assistant", "content": turn["value"]})
        full = tokenizer.apply_chat_template(messages, tokenize=False)
        if not (prefix.startswith(done) and full.startswith(prefix)):
            raise HarnessError("the tokenizer's chat template does not render a conversation"
                               " as a growing prefix; cannot tell prompt from answer")
        pieces += [(prefix[len(done):], False), (full[len(prefix):], True)]
        done = full
    if turns and turns[-1]["from"] == "human":
        prompt = tokenizer.apply_chat_template(messages, tokenize=False,
                                               add_generation_prompt=True)
        pieces.append((prompt[len(done):], False))
    return [(text, trained) for text, trained in pieces if text]


def tokenize_conversation(turns: Sequence[dict[str, str]], tokenizer, *, num_image_tokens: int,
                          max_length: int, system: str = "") -> Tokenized:
    """Token ids and labels of a whole conversation; only assistant replies carry labels.

    Each piece is tokenized on its own and the ids concatenated, so the boundary between
    masked and trained tokens is exact whatever the tokenizer merges.
    """
    ids: list[int] = []
    labels: list[int] = []
    for text, trained in segments(turns, tokenizer, system):
        piece = encode_with_image(text, tokenizer, num_image_tokens)
        ids += piece
        labels += piece if trained else [IGNORE_INDEX] * len(piece)
    if len(ids) > max_length:
        if image_token_id(tokenizer) in ids[max_length:]:
            raise HarnessError(f"conversation longer than max_length={max_length} cuts its image")
        ids, labels = ids[:max_length], labels[:max_length]
    return Tokenized(ids, labels)


def encode_with_image(text: str, tokenizer, num_image_tokens: int) -> list[int]:
    """Encode text, expanding each ``<image>`` into ``num_image_tokens`` image-token ids."""
    parts = text.split(IMAGE_TOKEN)
    ids: list[int] = []
    for k, part in enumerate(parts):
        if k:
            ids += [image_token_id(tokenizer)] * num_image_tokens
        if part:
            ids += tokenizer.encode(part, add_special_tokens=False)
    return ids


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
