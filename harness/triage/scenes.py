"""The pictures triage shows an encoder: the shapes probe's scenes (count, left/right relation,
depth order), described as data so a scene can be labelled from the picture alone, changed in
one attribute (an MMVP-style pair), and moved by a known transformation (correspondence).

Coordinates are fractions of the image side, so one scene renders at any encoder's size. The
probe's questions name which object they ask about; a frozen-feature probe sees only the
picture, so relation and depth get a canonical label instead: is the colour that comes first
in ``COLORS`` order the left (or the nearer) one.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass

from PIL import Image, ImageDraw

from harness.data.probe import COLORS, SHAPES, draw_shape, spread_centres
from harness.data.probe_format import BACKGROUND

TASKS: dict[str, int] = {"Count": 4, "Relation": 2, "Depth": 2}
"""The probe's tasks and how many classes each has (Count: 1-4 shapes)."""
ATTRIBUTES = ("color", "count", "position", "depth")
"""What an MMVP-style pair changes: one object's colour, the number of objects, which object
is on the left, which is in front."""
COLOR_ORDER = tuple(COLORS)


@dataclass(frozen=True)
class Shape:
    kind: str
    color: str
    x: float
    y: float
    r: float
    """Centre and "radius", as fractions of the image side."""


@dataclass(frozen=True)
class Scene:
    shapes: tuple[Shape, ...]
    """Drawn in order: a later shape covers an earlier one (the nearer is drawn last)."""

    def render(self, size: int) -> Image.Image:
        img = Image.new("RGB", (size, size), BACKGROUND)
        draw = ImageDraw.Draw(img)
        for s in self.shapes:
            draw_shape(draw, s.kind, s.color, s.x * size, s.y * size, s.r * size)
        return img

    def moved(self, dx: float, dy: float) -> Scene:
        return Scene(tuple(dataclasses.replace(s, x=s.x + dx, y=s.y + dy) for s in self.shapes))


MARGIN = 0.03
"""Shapes keep this far (as a fraction of the side) inside the picture's edges."""


def count_scene(rng: random.Random, count: int | None = None) -> tuple[Scene, int]:
    """1-4 shapes of one kind and colour; the label is the count less one."""
    count = count or rng.randint(1, 4)
    kind, color, r = rng.choice(SHAPES), rng.choice(COLOR_ORDER), 0.09
    centres = spread_centres(rng, count, 1.0, r, MARGIN)
    return Scene(tuple(Shape(kind, color, x, y, r) for x, y in centres)), count - 1


def relation_scene(rng: random.Random) -> tuple[Scene, int]:
    """Two shapes well apart left and right; label 1 when the first colour is on the left."""
    a, b = sorted(rng.sample(COLOR_ORDER, 2), key=COLOR_ORDER.index)
    r = 0.11
    xa, xb = rng.uniform(r + MARGIN, 0.5 - r * 0.5), rng.uniform(0.5 + r * 0.5, 1 - r - MARGIN)
    if rng.random() < 0.5:
        xa, xb = xb, xa
    shapes = (Shape(rng.choice(SHAPES), a, xa, rng.uniform(r, 1 - r), r),
              Shape(rng.choice(SHAPES), b, xb, rng.uniform(r, 1 - r), r))
    return Scene(shapes), int(xa < xb)


def depth_scene(rng: random.Random) -> tuple[Scene, int]:
    """A small far shape partly behind a large near one; label 1 when the first colour is the
    nearer. The cues are the probe's: the nearer is larger and covers the other."""
    a, b = sorted(rng.sample(COLOR_ORDER, 2), key=COLOR_ORDER.index)
    near, far = (a, b) if rng.random() < 0.5 else (b, a)
    r_far, r_near = 0.10, 0.18
    cx, cy = rng.uniform(r_near + 0.05, 1 - r_near - 0.05), rng.uniform(r_near + 0.05,
                                                                      1 - r_near - 0.05)
    dx, dy = rng.uniform(-1, 1) * r_near, rng.uniform(-1, 1) * r_near
    shapes = (Shape(rng.choice(SHAPES), far, cx + dx, cy + dy, r_far),
              Shape(rng.choice(SHAPES), near, cx - dx * 0.3, cy - dy * 0.3, r_near))
    return Scene(shapes), int(near == a)


MAKERS = {"Count": count_scene, "Relation": relation_scene, "Depth": depth_scene}


def task_scenes(rng: random.Random, task: str, n: int) -> list[tuple[Scene, int]]:
    return [MAKERS[task](rng) for _ in range(n)]


# -- MMVP-style pairs --------------------------------------------------------------------------


def changed(scene: Scene, attribute: str, rng: random.Random) -> Scene:
    """``scene`` with one attribute changed and everything else kept."""
    shapes = list(scene.shapes)
    if attribute == "color":
        i = rng.randrange(len(shapes))
        unused = [c for c in COLOR_ORDER if c not in {s.color for s in shapes}]
        shapes[i] = dataclasses.replace(shapes[i], color=rng.choice(unused))
    elif attribute == "count":
        # One more shape of the same kind and colour, placed clear of the others.
        first = shapes[0]
        for _ in range(1000):
            x, y = rng.uniform(0.12, 0.88), rng.uniform(0.12, 0.88)
            if all((x - s.x) ** 2 + (y - s.y) ** 2 > (2.2 * first.r) ** 2 for s in shapes):
                shapes.append(dataclasses.replace(first, x=x, y=y))
                break
    elif attribute == "position":
        # The two objects trade places: same objects, left and right swapped.
        a, b = shapes
        shapes = [dataclasses.replace(a, x=b.x, y=b.y), dataclasses.replace(b, x=a.x, y=a.y)]
    elif attribute == "depth":
        # The far object comes in front: sizes and drawing order swap, positions stay.
        far, near = shapes
        shapes = [dataclasses.replace(near, r=far.r), dataclasses.replace(far, r=near.r)]
    else:
        raise ValueError(f"unknown attribute {attribute!r}; valid: {', '.join(ATTRIBUTES)}")
    return Scene(tuple(shapes))


PAIR_BASES = {"color": "Relation", "count": "Count", "position": "Relation", "depth": "Depth"}
"""Which task's scenes each attribute changes (a count pair starts from 1-3 shapes)."""


def pair_triplets(rng: random.Random, attribute: str, n: int
                  ) -> list[tuple[Scene, Scene, Scene]]:
    """(scene, the same scene nudged, the scene with ``attribute`` changed): an encoder that
    sees the attribute finds the nudged copy nearer than the changed one."""
    out = []
    for _ in range(n):
        if attribute == "count":
            base, _ = count_scene(rng, count=rng.randint(1, 3))
        else:
            base, _ = MAKERS[PAIR_BASES[attribute]](rng)
        nudge = (rng.uniform(-0.03, 0.03), rng.uniform(-0.03, 0.03))
        out.append((base, base.moved(*nudge), changed(base, attribute, rng)))
    return out


# -- correspondence ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Warp:
    """A horizontal flip (or not), then a square crop of side ``scale`` at (``left``, ``top``)
    resized back to the full image: where every point of the first image lands is known."""

    flip: bool
    scale: float
    left: float
    top: float

    def point(self, x: float, y: float) -> tuple[float, float]:
        x = 1 - x if self.flip else x
        return (x - self.left) / self.scale, (y - self.top) / self.scale

    def apply(self, image: Image.Image) -> Image.Image:
        size = image.width
        if self.flip:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        box = tuple(round(v * size) for v in (self.left, self.top, self.left + self.scale,
                                              self.top + self.scale))
        return image.crop(box).resize((size, size), Image.Resampling.BICUBIC)


def correspondence_scene(rng: random.Random) -> tuple[Scene, Warp, list[tuple[float, float]]]:
    """Four shapes, each a different colour, a warp, and the query points (the shapes'
    centres) that stay inside the crop."""
    r = 0.08
    colors = rng.sample(COLOR_ORDER, 4)
    centres = spread_centres(rng, 4, 1.0, r, MARGIN)
    scene = Scene(tuple(Shape(rng.choice(SHAPES), c, x, y, r)
                        for c, (x, y) in zip(colors, centres, strict=True)))
    scale = rng.uniform(0.7, 0.9)
    warp = Warp(flip=rng.random() < 0.5, scale=scale, left=rng.uniform(0, 1 - scale),
                top=rng.uniform(0, 1 - scale))
    points = [(s.x, s.y) for s in scene.shapes
              if all(0.05 <= v <= 0.95 for v in warp.point(s.x, s.y))]
    return scene, warp, points
