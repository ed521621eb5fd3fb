"""The objects probe: real photographs of clothing (Fashion-MNIST) placed on a canvas, with
questions whose answers are known by construction (how many bags, is the sneaker left or right
of the dress, which object is nearer), in the same files and CV-Bench layout as the shapes probe.

Training pictures are composed from the release's train split and test pictures from its t10k
split, so the test set asks about object instances no training picture showed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from harness.data import fashion_mnist
from harness.data.probe_format import (
    BACKGROUND,
    COUNT_CHOICES,
    Item,
    ProbeFiles,
    count_item,
    depth_item,
    relation_item,
    write_probe_files,
)

GENERATOR_VERSION = "1"
SOURCE = "probe-objects"
"""The test rows' ``source`` and the prefix of the conversations' ids and sources."""


@dataclass(frozen=True)
class ObjectClass:
    """A Fashion-MNIST class as the questions name it."""

    label: int
    name: str
    plural: str

    @property
    def with_article(self) -> str:
        return f"{'an' if self.name[0] in 'aeiou' else 'a'} {self.name}"


def _named(official: str, name: str, plural: str) -> ObjectClass:
    return ObjectClass(fashion_mnist.CLASSES.index(official), name, plural)


# Classes that differ at a glance and have one everyday name; pullover, coat and shirt look
# like the T-shirt at 28 px, and a sandal's straps fall apart into several blobs.
OBJECTS = (
    _named("T-shirt/top", "T-shirt", "T-shirts"),
    _named("Trouser", "pair of trousers", "pairs of trousers"),
    _named("Dress", "dress", "dresses"),
    _named("Sneaker", "sneaker", "sneakers"),
    _named("Bag", "bag", "bags"),
    _named("Ankle boot", "ankle boot", "ankle boots"),
)
PHOTO_SPLIT = {"align": "train", "train": "train", "test": "t10k"}
"""The Fashion-MNIST split each probe split draws its photos from."""
TINTS = ((200, 40, 40), (40, 80, 200), (30, 140, 60), (230, 130, 20), (130, 60, 170),
         (20, 140, 150), (150, 95, 45), (210, 70, 150))
"""Item colours: an item gets one at random, so colour never gives an answer away; colour
keeps overlapping items apart, as in a photo."""
# Fashion-MNIST photos are negated (0 the white studio background, 255 the darkest part).
# Faint ink is the item's edge: it becomes opaque by OPAQUE_INK; darker ink darkens the tint
# by up to SHADE, keeping the garment's folds and seams that the encoder sees as texture.
OPAQUE_INK, SHADE = 0.25, 0.6
SILHOUETTE_INK = 0.05
"""Ink from which an item visibly covers what is under it (a fifth opaque)."""
SIDES = {"count": (0.25, 0.31), "relation": (0.30, 0.36), "far": (0.25, 0.30),
         "near": (0.44, 0.52)}
"""Item sides, as fractions of the canvas, by role: 56 to 116 px on a 224-px canvas, so an
encoder sees each 28-px photo at two to four times its size."""
HIDDEN = (0.15, 0.35)
"""The share of the farther item's silhouette the nearer one hides, drawn per depth picture."""
GRID = 3
"""Counting pictures place items in distinct cells of a GRID x GRID grid, so none overlap."""
MAX_DISTRACTORS = 2


@dataclass(frozen=True)
class Placed:
    """One photo on the canvas: its class, its index in its Fashion-MNIST split, and the
    square (top-left corner and side, in pixels) it is scaled into."""

    kind: ObjectClass
    photo: int
    x: int
    y: int
    side: int
    tint: tuple[int, int, int]


@dataclass(frozen=True)
class Scene:
    """A picture to render, its question, and where its photos come from. ``items`` are in
    drawing order: a later item covers an earlier one where they overlap."""

    items: tuple[Placed, ...]
    item: Item
    photo_split: str


class Photos:
    """One Fashion-MNIST split's photos, with the indices of each probe class's photos."""

    def __init__(self, split: str) -> None:
        self.split = split
        self.data = fashion_mnist.load(split)
        self.pools = {c.label: self.data.indices_of(c.label) for c in OBJECTS}

    def pick(self, rng: random.Random, kind: ObjectClass) -> int:
        pool = self.pools[kind.label]
        return int(pool[rng.randrange(len(pool))])

    def silhouette(self, photo: int, side: int) -> np.ndarray:
        """Where the photo, scaled to ``side`` pixels, shows on the canvas."""
        return scaled_ink(self.data.images[photo], side)[..., 0] >= SILHOUETTE_INK


def scaled_ink(photo: np.ndarray, side: int) -> np.ndarray:
    """A 28x28 photo's ink (0 to 1) scaled to ``side`` x ``side``, as ``[side, side, 1]``."""
    scaled = Image.fromarray(photo).resize((side, side), Image.Resampling.BICUBIC)
    return np.asarray(scaled, np.float32)[..., None] / 255


def count_scene(rng: random.Random, size: int, photos: Photos) -> Scene:
    """1-4 items of one class among up to MAX_DISTRACTORS of others, none overlapping."""
    target = rng.choice(OBJECTS)
    count = rng.randint(1, len(COUNT_CHOICES))
    others = [c for c in OBJECTS if c != target]
    kinds = [target] * count + [rng.choice(others)
                                for _ in range(rng.randint(0, MAX_DISTRACTORS))]
    cell = size / GRID
    items = []
    for kind, where in zip(kinds, rng.sample(range(GRID * GRID), len(kinds)), strict=True):
        side = round(rng.uniform(*SIDES["count"]) * size)
        col, row = where % GRID, where // GRID
        # Flooring keeps the item inside its cell, so items never touch.
        x = int(col * cell + rng.uniform(0, cell - side))
        y = int(row * cell + rng.uniform(0, cell - side))
        items.append(Placed(kind, photos.pick(rng, kind), x, y, side, rng.choice(TINTS)))
    tally = {k: kinds.count(k) for k in kinds}
    caption = _listing([f"{n} {k.name if n == 1 else k.plural}" for k, n in tally.items()])
    return Scene(tuple(items), count_item(target.plural, count, f"{caption}."), photos.split)


def relation_scene(rng: random.Random, size: int, photos: Photos) -> Scene:
    """Two items of different classes, one in each half, with a clear gap between them."""
    first, second = rng.sample(OBJECTS, 2)
    left_side, right_side = (round(rng.uniform(*SIDES["relation"]) * size) for _ in range(2))
    gap = 0.04 * size
    left = (rng.uniform(0, size / 2 - gap / 2 - left_side), left_side)
    right = (rng.uniform(size / 2 + gap / 2, size - right_side), right_side)
    first_is_left = rng.random() < 0.5
    spots = (left, right) if first_is_left else (right, left)
    tints = rng.sample(TINTS, 2)
    items = tuple(Placed(kind, photos.pick(rng, kind), int(x),
                         int(rng.uniform(0, size - side)), side, tint)
                  for kind, (x, side), tint in zip((first, second), spots, tints, strict=True))
    where = "to the left of" if first_is_left else "to the right of"
    caption = f"{first.with_article.capitalize()} {where} {second.with_article}."
    return Scene(items, relation_item(first.name, second.name, first_is_left, caption),
                 photos.split)


def depth_scene(rng: random.Random, size: int, photos: Photos) -> Scene:
    """Two items of different classes and colours: the nearer one larger and drawn over the
    farther one, hiding part of it (the depth cues a camera gives)."""
    near, far = rng.sample(OBJECTS, 2)
    far_side = round(rng.uniform(*SIDES["far"]) * size)
    near_side = round(rng.uniform(*SIDES["near"]) * size)
    far_photo, near_photo = photos.pick(rng, far), photos.pick(rng, near)
    far_tint, near_tint = rng.sample(TINTS, 2)
    # The near item is placed along a random direction from the far one, at the distance
    # where it hides the share of the far item drawn for this picture: squares overlapping
    # is not enough, as a pair of trousers fills a third of its square.
    angle = rng.uniform(0, 2 * math.pi)
    hidden = rng.uniform(*HIDDEN)
    far_shape = photos.silhouette(far_photo, far_side)
    near_shape = photos.silhouette(near_photo, near_side)
    offsets = []  # of the near square's corner from the far square's, far to near
    for reach in np.linspace((near_side + far_side) / 2, 0, 49):
        offsets.append((round(far_side / 2 + reach * math.cos(angle) - near_side / 2),
                        round(far_side / 2 + reach * math.sin(angle) - near_side / 2)))
    ox, oy = min(offsets, key=lambda o: abs(hidden_share(far_shape, near_shape, *o) - hidden))
    left, top = min(0, ox), min(0, oy)
    right, bottom = max(far_side, ox + near_side), max(far_side, oy + near_side)
    fx = rng.randint(-left, size - right)
    fy = rng.randint(-top, size - bottom)
    items = (Placed(far, far_photo, fx, fy, far_side, far_tint),
             Placed(near, near_photo, fx + ox, fy + oy, near_side, near_tint))
    first, second = (near, far) if rng.random() < 0.5 else (far, near)
    caption = f"{near.with_article.capitalize()} in front of {far.with_article}."
    return Scene(items, depth_item(first.name, second.name, near.name, caption), photos.split)


def hidden_share(under: np.ndarray, over: np.ndarray, ox: int, oy: int) -> float:
    """The share of silhouette ``under`` that silhouette ``over`` hides, ``over``'s square
    placed ``(ox, oy)`` pixels right of and below ``under``'s."""
    h, w = under.shape
    x0, y0 = max(0, ox), max(0, oy)
    x1, y1 = min(w, ox + over.shape[1]), min(h, oy + over.shape[0])
    if x0 >= x1 or y0 >= y1:
        return 0.0
    both = under[y0:y1, x0:x1] & over[y0 - oy:y1 - oy, x0 - ox:x1 - ox]
    return float(both.sum()) / max(1, int(under.sum()))


COMPOSERS = {"Count": count_scene, "Relation": relation_scene, "Depth": depth_scene}


def _listing(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def scenes(seed: int, split: str, n: int, size: int) -> Iterator[Scene]:
    """The ``n`` scenes of a probe split (``align``, ``train``, ``test``), in order; tasks
    take turns so that they stay balanced."""
    photos = Photos(PHOTO_SPLIT[split])
    rng = random.Random(f"objects-{seed}-{split}")
    tasks = list(COMPOSERS)
    for i in range(n):
        yield COMPOSERS[tasks[i % len(tasks)]](rng, size, photos)


def render(scene: Scene, size: int) -> Image.Image:
    """The scene's picture: each photo scaled to its square, tinted, and laid on the canvas
    where it has ink, in drawing order."""
    photos = fashion_mnist.load(scene.photo_split).images
    canvas = np.empty((size, size, 3), np.float32)
    canvas[:] = BACKGROUND
    for placed in scene.items:
        ink = scaled_ink(photos[placed.photo], placed.side)
        alpha = np.clip(ink / OPAQUE_INK, 0, 1)
        colour = np.asarray(placed.tint, np.float32) * (1 - SHADE * ink)
        region = canvas[placed.y:placed.y + placed.side, placed.x:placed.x + placed.side]
        region[:] = region * (1 - alpha) + colour * alpha
    return Image.fromarray(np.round(canvas).astype(np.uint8))


def write_objects_probe(root: Path, *, seed: int, n_align: int, n_train: int, n_test: int,
                        image_size: int = 128) -> ProbeFiles:
    """Write the objects probe under ``root`` (files as ``write_probe_files`` says), or reuse
    it if the same settings and the same copy of Fashion-MNIST already wrote it."""
    settings = {"generator": GENERATOR_VERSION, "fashion_mnist": fashion_mnist.fingerprint(),
                "seed": seed, "n_align": n_align, "n_train": n_train, "n_test": n_test,
                "image_size": image_size}

    def make_split(split: str, n: int) -> Iterator[tuple[Image.Image, Item]]:
        for scene in scenes(seed, split, n, image_size):
            yield render(scene, image_size), scene.item

    return write_probe_files(root, settings,
                             {"align": n_align, "train": n_train, "test": n_test},
                             make_split, name=SOURCE)
