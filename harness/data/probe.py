"""A procedural vision-centric probe: pictures of coloured shapes whose counts, left/right
relations and depth order are known exactly, written as LLaVA-format training conversations and
as a test set in CV-Bench's record layout. The same seed always gives the same files.
"""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw

from harness.data.probe_format import (
    BACKGROUND,
    Item,
    ProbeFiles,
    count_item,
    depth_item,
    relation_item,
    write_probe_files,
)

GENERATOR_VERSION = "2"
COLORS = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 220),
          "yellow": (230, 200, 30)}
SHAPES = ("circle", "square", "triangle")


def draw_shape(draw: ImageDraw.ImageDraw, shape: str, color: str, cx: float, cy: float,
               r: float) -> None:
    """One filled, black-outlined shape centred at (cx, cy) with "radius" r, in pixels."""
    box = (cx - r, cy - r, cx + r, cy + r)
    fill = COLORS[color]
    if shape == "circle":
        draw.ellipse(box, fill=fill, outline=(0, 0, 0))
    elif shape == "square":
        draw.rectangle(box, fill=fill, outline=(0, 0, 0))
    else:
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill,
                     outline=(0, 0, 0))


def spread_centres(rng: random.Random, n: int, size: float, r: float, margin: float = 0.0
                   ) -> list[tuple[float, float]]:
    """n centres at least 2.2 r apart, each at least ``r + margin`` from the edges (rejection
    sampling; the canvas is roomy enough)."""
    centres: list[tuple[float, float]] = []
    low, high = r + margin, size - r - margin
    while len(centres) < n:
        c = (rng.uniform(low, high), rng.uniform(low, high))
        if all((c[0] - o[0]) ** 2 + (c[1] - o[1]) ** 2 > (2.2 * r) ** 2 for o in centres):
            centres.append(c)
    return centres


def make_count(rng: random.Random, size: int) -> tuple[Image.Image, Item]:
    img = Image.new("RGB", (size, size), BACKGROUND)
    draw = ImageDraw.Draw(img)
    color = rng.choice(list(COLORS))
    shape = rng.choice(SHAPES)
    count = rng.randint(1, 4)
    r = size * 0.09
    for cx, cy in spread_centres(rng, count, size, r):
        draw_shape(draw, shape, color, cx, cy, r)
    noun = shape if count == 1 else f"{shape}s"
    return img, count_item(f"{color} {shape}s", count, f"{count} {color} {noun}.")


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
    draw_shape(draw, shape_a, first, xa, rng.uniform(r, size - r), r)
    draw_shape(draw, shape_b, second, xb, rng.uniform(r, size - r), r)
    side = "left" if xa < xb else "right"
    return img, relation_item(f"{first} {shape_a}", f"{second} {shape_b}", xa < xb,
                              f"A {first} {shape_a} {side} of a {second} {shape_b}.")


def make_depth(rng: random.Random, size: int) -> tuple[Image.Image, Item]:
    img = Image.new("RGB", (size, size), BACKGROUND)
    draw = ImageDraw.Draw(img)
    near, far = rng.sample(list(COLORS), 2)
    shape_near, shape_far = rng.choice(SHAPES), rng.choice(SHAPES)
    # Depth cues a camera would give: the nearer object is larger and occludes the farther one.
    r_far, r_near = size * 0.10, size * 0.18
    cx, cy = rng.uniform(r_near, size - r_near), rng.uniform(r_near, size - r_near)
    dx, dy = rng.uniform(-1, 1) * r_near, rng.uniform(-1, 1) * r_near
    draw_shape(draw, shape_far, far, cx + dx, cy + dy, r_far)
    draw_shape(draw, shape_near, near, cx - dx * 0.3, cy - dy * 0.3, r_near)
    a, b = (near, far) if rng.random() < 0.5 else (far, near)
    names = {near: f"{near} {shape_near}", far: f"{far} {shape_far}"}
    return img, depth_item(names[a], names[b], names[near],
                           f"A {names[near]} in front of a {names[far]}.")


MAKERS = {"Count": make_count, "Relation": make_relation, "Depth": make_depth}


def generate(rng: random.Random, index: int, size: int) -> tuple[Image.Image, Item]:
    task = list(MAKERS)[index % len(MAKERS)]  # round-robin keeps the tasks balanced
    return MAKERS[task](rng, size)


def write_probe(root: Path, *, seed: int, n_align: int, n_train: int, n_test: int,
                image_size: int = 128) -> ProbeFiles:
    """Write the shapes probe under ``root`` (files as ``write_probe_files`` says), or reuse
    it if the same settings already wrote it."""
    settings = {"generator": GENERATOR_VERSION, "seed": seed, "n_align": n_align,
                "n_train": n_train, "n_test": n_test, "image_size": image_size}

    def make_split(split: str, n: int):
        rng = random.Random(f"{seed}-{split}")
        return (generate(rng, i, image_size) for i in range(n))

    return write_probe_files(root, settings,
                             {"align": n_align, "train": n_train, "test": n_test},
                             make_split, name="probe")
