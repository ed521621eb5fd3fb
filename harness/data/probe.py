"""A procedural vision-centric probe: pictures of coloured shapes whose counts, left/right
relations and depth order are known exactly, written as LLaVA-format training conversations and
as a test set in CV-Bench's record layout. The same seed always gives the same files.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from harness.config import stable_hash
from harness.record import atomic_write_text

GENERATOR_VERSION = "2"
COLORS = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 220),
          "yellow": (230, 200, 30)}
SHAPES = ("circle", "square", "triangle")
BACKGROUND = (235, 235, 235)
COUNT_CHOICES = ("1", "2", "3", "4")
# CV-Bench's tasks and types: Count and Relation are 2D, Depth is 3D.
TASKS = {"Count": "2D", "Relation": "2D", "Depth": "3D"}


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
        return "ABCDEFGH"[self.answer_index]


def _draw(draw: ImageDraw.ImageDraw, shape: str, color: str, cx: float, cy: float,
          r: float) -> None:
    box = (cx - r, cy - r, cx + r, cy + r)
    fill = COLORS[color]
    if shape == "circle":
        draw.ellipse(box, fill=fill, outline=(0, 0, 0))
    elif shape == "square":
        draw.rectangle(box, fill=fill, outline=(0, 0, 0))
    else:
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill,
                     outline=(0, 0, 0))


def _spread(rng: random.Random, n: int, size: int, r: float) -> list[tuple[float, float]]:
    """n centres at least 2.2 r apart (rejection sampling; the canvas is roomy enough)."""
    centres: list[tuple[float, float]] = []
    while len(centres) < n:
        c = (rng.uniform(r, size - r), rng.uniform(r, size - r))
        if all((c[0] - o[0]) ** 2 + (c[1] - o[1]) ** 2 > (2.2 * r) ** 2 for o in centres):
            centres.append(c)
    return centres


def _choices(choices: tuple[str, ...], right: str) -> tuple[tuple[str, ...], int]:
    # Choices keep a fixed order (counts ascending, left before right, objects as named), so
    # the letter follows from what is seen; a shuffled order would add a text-matching step
    # that a tiny LLM cannot learn in a smoke run's few hundred steps.
    return choices, choices.index(right)


def make_count(rng: random.Random, size: int) -> tuple[Image.Image, Item]:
    img = Image.new("RGB", (size, size), BACKGROUND)
    draw = ImageDraw.Draw(img)
    color = rng.choice(list(COLORS))
    shape = rng.choice(SHAPES)
    count = rng.randint(1, 4)
    r = size * 0.09
    for cx, cy in _spread(rng, count, size, r):
        _draw(draw, shape, color, cx, cy, r)
    choices, idx = _choices(COUNT_CHOICES, str(count))
    noun = shape if count == 1 else f"{shape}s"
    return img, Item(
        task="Count",
        question=f"How many {color} {shape}s are in the image?",
        choices=choices,
        answer_index=idx,
        caption=f"{count} {color} {noun}.",
    )


def make_relation(rng: random.Random, size: int) -> tuple[Image.Image, Item]:
    img = Image.new("RGB", (size, size), BACKGROUND)
    draw = ImageDraw.Draw(img)
    first, second = rng.sample(list(COLORS), 2)
    shape_a, shape_b = rng.choice(SHAPES), rng.choice(SHAPES)
    r = size * 0.11
    # Keep the two shapes clearly apart horizontally so "left" and "right" are unambiguous.
    xa = rng.uniform(r, size / 2 - r * 0.5)
    xb = rng.uniform(size / 2 + r * 0.5, size - r)
    if rng.random() < 0.5:
        xa, xb = xb, xa
    _draw(draw, shape_a, first, xa, rng.uniform(r, size - r), r)
    _draw(draw, shape_b, second, xb, rng.uniform(r, size - r), r)
    right = "left" if xa < xb else "right"
    choices, idx = _choices(("left", "right"), right)
    return img, Item(
        task="Relation",
        question=(f"Considering the relative positions of the {first} {shape_a} and the"
                  f" {second} {shape_b} in the image, where is the {first} {shape_a} located"
                  f" with respect to the {second} {shape_b}?"),
        choices=choices,
        answer_index=idx,
        caption=f"A {first} {shape_a} {right} of a {second} {shape_b}.",
    )


def make_depth(rng: random.Random, size: int) -> tuple[Image.Image, Item]:
    img = Image.new("RGB", (size, size), BACKGROUND)
    draw = ImageDraw.Draw(img)
    near, far = rng.sample(list(COLORS), 2)
    shape_near, shape_far = rng.choice(SHAPES), rng.choice(SHAPES)
    # Depth cues a camera would give: the nearer object is larger and occludes the farther one.
    r_far, r_near = size * 0.10, size * 0.18
    cx, cy = rng.uniform(r_near, size - r_near), rng.uniform(r_near, size - r_near)
    dx, dy = rng.uniform(-1, 1) * r_near, rng.uniform(-1, 1) * r_near
    _draw(draw, shape_far, far, cx + dx, cy + dy, r_far)
    _draw(draw, shape_near, near, cx - dx * 0.3, cy - dy * 0.3, r_near)
    a, b = (near, far) if rng.random() < 0.5 else (far, near)
    names = {near: f"{near} {shape_near}", far: f"{far} {shape_far}"}
    choices, idx = _choices((names[a], names[b]), names[near])
    return img, Item(
        task="Depth",
        question=(f"Which object is closer to the camera taking this photo, the {names[a]}"
                  f" or the {names[b]}?"),
        choices=choices,
        answer_index=idx,
        caption=f"A {names[near]} in front of a {names[far]}.",
    )


MAKERS = {"Count": make_count, "Relation": make_relation, "Depth": make_depth}


def cvbench_prompt(question: str, choices: tuple[str, ...]) -> str:
    """The ``prompt`` field as CV-Bench writes it: question, then lettered choices."""
    lines = [f"({'ABCDEFGH'[i]}) {c}" for i, c in enumerate(choices)]
    return f"{question} Select from the following choices.\n" + "\n".join(lines)


def generate(rng: random.Random, index: int, size: int) -> tuple[Image.Image, Item]:
    task = list(MAKERS)[index % len(MAKERS)]  # round-robin keeps the tasks balanced
    return MAKERS[task](rng, size)


@dataclass(frozen=True)
class ProbeFiles:
    root: Path
    align: Path
    train: Path
    test: Path
    dataset_hash: str


def write_probe(root: Path, *, seed: int, n_align: int, n_train: int, n_test: int,
                image_size: int = 128) -> ProbeFiles:
    """Write the probe under ``root``, or reuse it if the same settings already wrote it.

    Files: ``align.json`` (captions, for the align stage), ``train.json`` (questions),
    both LLaVA conversations, and ``test.jsonl`` with ``img/test/*.png`` (CV-Bench layout).
    """
    settings = {"generator": GENERATOR_VERSION, "seed": seed, "n_align": n_align,
                "n_train": n_train, "n_test": n_test, "image_size": image_size}
    digest = stable_hash(settings)
    files = ProbeFiles(root, root / "align.json", root / "train.json", root / "test.jsonl",
                       digest)
    meta = root / "meta.json"
    if meta.exists() and json.loads(meta.read_text()).get("dataset_hash") == digest:
        return files

    # Separate streams per split so changing one split's size never changes the others.
    for split, n in (("align", n_align), ("train", n_train), ("test", n_test)):
        rng = random.Random(f"{seed}-{split}")
        (root / "img" / split).mkdir(parents=True, exist_ok=True)
        rows = []
        for i in range(n):
            img, item = generate(rng, i, image_size)
            rel = f"img/{split}/{i:06d}.png"
            img.save(root / rel)
            rows.append(_row(split, i, rel, item))
        if split == "test":
            text = "".join(json.dumps(r) + "\n" for r in rows)
            atomic_write_text(files.test, text)
        else:
            atomic_write_text(root / f"{split}.json", json.dumps(rows))
    atomic_write_text(meta, json.dumps({**settings, "dataset_hash": digest}, indent=2))
    return files


def _row(split: str, i: int, image: str, item: Item) -> dict:
    if split == "test":
        return {
            "idx": i,
            "type": TASKS[item.task],
            "task": item.task,
            "source": "probe",
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
        from harness.eval.prompts import multiple_choice_prompt

        turns = [{"from": "human",
                  "value": "<image>\n" + multiple_choice_prompt(
                      cvbench_prompt(item.question, item.choices))},
                 {"from": "gpt", "value": item.letter}]
    return {"id": f"probe-{split}-{i}", "image": image, "source": f"probe-{item.task.lower()}",
            "conversations": turns}
