"""Data mixtures: per-source balancing with a threshold t (Cambrian-7M keeps at most t samples
of each source, t between 250k and 350k) and the short-answer prompt switch."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.data.conversations import load_conversations
from harness.errors import HarnessError
from harness.eval.prompts import SHORT_ANSWER_SUFFIX
from harness.record import atomic_write_text


@dataclass(frozen=True)
class SourceCount:
    source: str
    before: int
    after: int


def source_of(entry: dict[str, Any], key: str, fallback: str) -> str:
    value = entry.get(key)
    return str(value) if value else fallback


def read_sources(paths: Iterable[Path], key: str = "source") -> list[tuple[str, dict]]:
    """(source, entry) pairs; an entry without ``key`` belongs to its file's stem."""
    pairs = []
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise HarnessError(f"no such data file: {path}")
        try:
            entries = load_conversations(path)
        except ValueError as exc:
            raise HarnessError(f"{path}: not LLaVA-format JSON/JSONL: {exc}") from None
        pairs += [(source_of(e, key, path.stem), e) for e in entries]
    return pairs


def balance(pairs: list[tuple[str, dict]], threshold: int | None, seed: int = 0
            ) -> tuple[list[dict], list[SourceCount]]:
    """Keep at most ``threshold`` entries per source, a seeded random subset, order kept."""
    if threshold is not None and threshold <= 0:
        raise HarnessError(f"bad threshold {threshold}; it must be a positive count")
    by_source: dict[str, list[int]] = defaultdict(list)
    for i, (source, _) in enumerate(pairs):
        by_source[source].append(i)
    keep: set[int] = set()
    counts = []
    rng = random.Random(seed)
    for source in sorted(by_source):
        indices = by_source[source]
        chosen = indices if threshold is None or len(indices) <= threshold \
            else rng.sample(indices, threshold)
        keep.update(chosen)
        counts.append(SourceCount(source, len(indices), len(chosen)))
    return [entry for i, (_, entry) in enumerate(pairs) if i in keep], counts


def is_short_answer(entry: dict[str, Any], max_words: int = 3) -> bool:
    """Every assistant reply is at most ``max_words`` words (VQA-style data)."""
    replies = [t["value"] for t in entry.get("conversations", []) if t.get("from") == "gpt"]
    return bool(replies) and all(len(r.split()) <= max_words for r in replies)


def with_short_answer_prompt(entry: dict[str, Any], max_words: int = 3) -> dict[str, Any]:
    """Cambrian's fix for the "answer machine" problem: short-answer data gets the instruction
    "Answer the question using a single word or phrase." so the model learns when to be brief
    instead of answering everything in one word."""
    if not is_short_answer(entry, max_words):
        return entry
    turns = []
    for turn in entry["conversations"]:
        value = turn["value"]
        if turn["from"] == "human" and SHORT_ANSWER_SUFFIX not in value:
            value = f"{value}\n{SHORT_ANSWER_SUFFIX}"
        turns.append({**turn, "value": value})
    return {**entry, "conversations": turns}


def write_mixture(entries: list[dict], out: Path) -> Path:
    text = "".join(json.dumps(e) + "\n" for e in entries)
    return atomic_write_text(Path(out), text)
