"""What every generated probe shares: its questions in CV-Bench's terms and wording, and its
files (LLaVA-format align captions and finetune questions, a test set in CV-Bench's record
layout), rewritten only when the settings that made them change."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from harness.config import stable_hash
from harness.eval.prompts import multiple_choice_prompt
from harness.record import atomic_write_text

LETTERS = "ABCDEFGH"
BACKGROUND = (235, 235, 235)
"""The light grey canvas every probe draws on."""
COUNT_CHOICES = ("1", "2", "3", "4")
# CV-Bench's tasks and types: Count and Relation are 2D, Depth is 3D.
TASKS = {"Count": "2D", "Relation": "2D", "Depth": "3D"}
SPLITS = ("align", "train", "test")
"""Each split has a random stream of its own, so changing one split's size never changes the
others."""


@dataclass(frozen=True)
class Item:
    """One question about one image, in CV-Bench's terms."""

    task: str
    question: str
    choices: tuple[str, ...]
    answer_index: int
    caption: str

    @property
    def letter(self) -> str:
        return LETTERS[self.answer_index]


def _fixed_order(choices: tuple[str, ...], right: str) -> tuple[tuple[str, ...], int]:
    # Choices keep a fixed order (counts ascending, left before right, objects as named), so
    # the letter follows from what is seen; a shuffled order would add a text-matching step
    # that a tiny LLM cannot learn in a smoke run's few hundred steps.
    return choices, choices.index(right)


def count_item(things: str, count: int, caption: str) -> Item:
    """``How many <things> are in the image?`` (``things`` plural), answered 1 to 4."""
    choices, idx = _fixed_order(COUNT_CHOICES, str(count))
    return Item("Count", f"How many {things} are in the image?", choices, idx, caption)


def relation_item(first: str, second: str, first_is_left: bool, caption: str) -> Item:
    """CV-Bench's left/right question: where is ``first`` with respect to ``second``."""
    choices, idx = _fixed_order(("left", "right"), "left" if first_is_left else "right")
    question = (f"Considering the relative positions of the {first} and the {second} in the"
                f" image, where is the {first} located with respect to the {second}?")
    return Item("Relation", question, choices, idx, caption)


def depth_item(first: str, second: str, nearer: str, caption: str) -> Item:
    """CV-Bench's depth-order question; the choices are the two objects as named."""
    choices, idx = _fixed_order((first, second), nearer)
    question = (f"Which object is closer to the camera taking this photo, the {first} or the"
                f" {second}?")
    return Item("Depth", question, choices, idx, caption)


def cvbench_prompt(question: str, choices: tuple[str, ...]) -> str:
    """The ``prompt`` field as CV-Bench writes it: question, then lettered choices."""
    lines = [f"({LETTERS[i]}) {c}" for i, c in enumerate(choices)]
    return f"{question} Select from the following choices.\n" + "\n".join(lines)


@dataclass(frozen=True)
class ProbeFiles:
    root: Path
    align: Path
    train: Path
    test: Path
    dataset_hash: str


SplitMaker = Callable[[str, int], Iterable[tuple[Image.Image, Item]]]
"""``(split, n)`` -> that split's ``n`` pictures with their questions, in order."""


def write_probe_files(root: Path, settings: Mapping[str, Any], sizes: Mapping[str, int],
                      make_split: SplitMaker, *, name: str) -> ProbeFiles:
    """Write a probe under ``root``, or reuse it if the same ``settings`` already wrote it.

    Files: ``align.json`` (captions, for the align stage), ``train.json`` (questions),
    both LLaVA conversations, and ``test.jsonl`` with ``img/test/*.png`` (CV-Bench layout);
    ``meta.json``, written last, says which settings they are for. ``name`` prefixes the
    conversations' ids and sources and is the test rows' ``source``.
    """
    digest = stable_hash(settings)
    files = ProbeFiles(root, root / "align.json", root / "train.json", root / "test.jsonl",
                       digest)
    meta = root / "meta.json"
    if meta.exists() and json.loads(meta.read_text()).get("dataset_hash") == digest:
        return files

    for split in SPLITS:
        (root / "img" / split).mkdir(parents=True, exist_ok=True)
        rows = []
        for i, (img, item) in enumerate(make_split(split, sizes[split])):
            rel = f"img/{split}/{i:06d}.png"
            img.save(root / rel)
            rows.append(_row(name, split, i, rel, item))
        if split == "test":
            text = "".join(json.dumps(r) + "\n" for r in rows)
            atomic_write_text(files.test, text)
        else:
            atomic_write_text(root / f"{split}.json", json.dumps(rows))
    atomic_write_text(meta, json.dumps({**settings, "dataset_hash": digest}, indent=2))
    return files


def _row(name: str, split: str, i: int, image: str, item: Item) -> dict:
    if split == "test":
        return {
            "idx": i,
            "type": TASKS[item.task],
            "task": item.task,
            "source": name,
            "question": item.question,
            "choices": list(item.choices),
            "prompt": cvbench_prompt(item.question, item.choices),
            "answer": f"({item.letter})",
            "image": image,
        }
    if split == "align":
        turns = [{"from": "human", "value": "<image>\nDescribe the image briefly."},
                 {"from": "gpt", "value": item.caption}]
    else:

        turns = [{"from": "human",
                  "value": "<image>\n" + multiple_choice_prompt(
                      cvbench_prompt(item.question, item.choices))},
                 {"from": "gpt", "value": item.letter}]
    return {"id": f"{name}-{split}-{i}", "image": image, "source": f"{name}-{item.task.lower()}",
            "conversations": turns}
