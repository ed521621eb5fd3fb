"""The triage pictures: labels read off the geometry, one-attribute changes that change only
that attribute, and warps whose point mapping lands on the same shape in the warped picture."""

from __future__ import annotations

import random

import pytest

from harness.data.probe import COLORS
from harness.triage.scenes import (
    ATTRIBUTES,
    COLOR_ORDER,
    changed,
    correspondence_scene,
    count_scene,
    depth_scene,
    pair_triplets,
    relation_scene,
)

SIZE = 160


def test_count_label_is_the_number_of_shapes_less_one() -> None:
    rng = random.Random(0)
    for _ in range(20):
        scene, label = count_scene(rng)
        assert label == len(scene.shapes) - 1 and 0 <= label <= 3
        assert len({(s.kind, s.color) for s in scene.shapes}) == 1


def test_relation_label_says_whether_the_first_colour_is_on_the_left() -> None:
    rng = random.Random(1)
    labels = []
    for _ in range(40):
        scene, label = relation_scene(rng)
        first, second = sorted(scene.shapes, key=lambda s: COLOR_ORDER.index(s.color))
        assert label == int(first.x < second.x)
        labels.append(label)
    assert 0 < sum(labels) < len(labels)  # both answers occur


def test_depth_label_names_the_larger_shape_drawn_last_and_pixels_agree() -> None:
    rng = random.Random(2)
    for _ in range(20):
        scene, label = depth_scene(rng)
        far, near = scene.shapes
        assert near.r > far.r
        first = min((far, near), key=lambda s: COLOR_ORDER.index(s.color))
        assert label == int(first is near)
        # The near shape covers its own centre: the pixel there has its colour.
        picture = scene.render(SIZE)
        assert picture.getpixel((int(near.x * SIZE), int(near.y * SIZE))) == COLORS[near.color]


@pytest.mark.parametrize("attribute", ATTRIBUTES)
def test_a_pair_changes_one_attribute_and_the_nudged_copy_none(attribute: str) -> None:
    for base, nudged, other in pair_triplets(random.Random(3), attribute, 10):
        assert [(s.kind, s.color, s.r) for s in nudged.shapes] == [
            (s.kind, s.color, s.r) for s in base.shapes]
        if attribute == "color":
            assert sorted(s.color for s in other.shapes) != sorted(s.color for s in base.shapes)
            assert [(s.x, s.y) for s in other.shapes] == [(s.x, s.y) for s in base.shapes]
        elif attribute == "count":
            assert len(other.shapes) == len(base.shapes) + 1
        elif attribute == "position":
            a, b = base.shapes
            assert {(s.color, s.x) for s in other.shapes} == {(a.color, b.x), (b.color, a.x)}
        else:
            assert [s.color for s in other.shapes][::-1] == [s.color for s in base.shapes]
            assert other.shapes[-1].r > other.shapes[0].r  # the other shape now in front


def test_unknown_attribute_is_refused_with_the_choices() -> None:
    scene, _ = count_scene(random.Random(0))
    with pytest.raises(ValueError, match="valid: color, count, position, depth"):
        changed(scene, "texture", random.Random(0))


def test_a_warped_point_lands_on_the_same_shape() -> None:
    rng = random.Random(4)
    checked = 0
    for _ in range(15):
        scene, warp, points = correspondence_scene(rng)
        warped = warp.apply(scene.render(SIZE))
        colours = {(s.x, s.y): s.color for s in scene.shapes}
        for x, y in points:
            u, v = warp.point(x, y)
            pixel = warped.getpixel((min(int(u * SIZE), SIZE - 1), min(int(v * SIZE), SIZE - 1)))
            # Bicubic resampling blurs edges; a shape's centre keeps its colour.
            assert max(abs(a - b) for a, b in zip(pixel, COLORS[colours[(x, y)]],
                                                  strict=True)) < 12
            checked += 1
    assert checked > 30
