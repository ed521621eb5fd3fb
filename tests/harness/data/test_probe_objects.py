"""The objects probe: answers follow from where each photo was placed, the pictures show those
placements, test pictures hold only t10k photos (unseen instances), and a seed gives the same
files every time."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness.data import fashion_mnist
from harness.data.probe_format import BACKGROUND
from harness.data.probe_objects import (
    HIDDEN,
    OBJECTS,
    TINTS,
    Photos,
    Placed,
    Scene,
    hidden_share,
    render,
    scenes,
    write_objects_probe,
)

from .conftest import TEST_INK, TRAIN_INK

SIZE = 224


@pytest.fixture(scope="module")
def test_scenes() -> list[Scene]:
    return list(scenes(seed=0, split="test", n=150, size=SIZE))


def answer(scene: Scene) -> str:
    return scene.item.choices[scene.item.answer_index]


def of_task(found: list[Scene], task: str) -> list[Scene]:
    chosen = [s for s in found if s.item.task == task]
    assert len(chosen) == len(found) // 3  # the tasks take turns
    return chosen


def boxes_overlap(a: Placed, b: Placed) -> bool:
    return (a.x < b.x + b.side and b.x < a.x + a.side and a.y < b.y + b.side
            and b.y < a.y + a.side)


def by_name(name: str):
    return next(c for c in OBJECTS if name in (c.name, c.plural))


def test_every_item_is_on_the_canvas_and_large_enough_to_see(test_scenes) -> None:
    for scene in test_scenes:
        for placed in scene.items:
            assert placed.x >= 0 and placed.x + placed.side <= SIZE, scene
            assert placed.y >= 0 and placed.y + placed.side <= SIZE, scene
            assert placed.side >= 2 * 28  # upscaled at least twice for a 224-px encoder


def test_counts_are_the_placed_items_of_the_asked_class(test_scenes) -> None:
    for scene in of_task(test_scenes, "Count"):
        asked = by_name(scene.item.question.removeprefix("How many ")
                        .removesuffix(" are in the image?"))
        kinds = [p.kind for p in scene.items]
        assert kinds.count(asked) == int(answer(scene)), scene
        for kind in set(kinds):  # the caption counts every class the picture shows
            n = kinds.count(kind)
            assert f"{n} {kind.name if n == 1 else kind.plural}" in scene.item.caption
        assert not any(boxes_overlap(a, b) for i, a in enumerate(scene.items)
                       for b in scene.items[i + 1:]), scene
    counts = {answer(s) for s in of_task(test_scenes, "Count")}
    assert counts == {"1", "2", "3", "4"}


def test_left_or_right_follows_from_the_coordinates(test_scenes) -> None:
    for scene in of_task(test_scenes, "Relation"):
        first, second = scene.items
        assert first.kind.name in scene.item.question.split("where is the ")[1]
        assert first.kind != second.kind
        if answer(scene) == "left":
            assert first.x + first.side < second.x, scene  # a clear gap between them
        else:
            assert second.x + second.side < first.x, scene
    assert {answer(s) for s in of_task(test_scenes, "Relation")} == {"left", "right"}


def test_the_nearer_item_is_the_larger_drawn_last_over_the_other(test_scenes) -> None:
    photos = Photos("t10k")
    letters = set()
    for scene in of_task(test_scenes, "Depth"):
        far, near = scene.items  # drawing order
        assert answer(scene) == near.kind.name and near.kind != far.kind
        assert set(scene.item.choices) == {near.kind.name, far.kind.name}
        assert near.side > 1.4 * far.side and near.tint != far.tint
        hidden = hidden_share(photos.silhouette(far.photo, far.side),
                              photos.silhouette(near.photo, near.side),
                              near.x - far.x, near.y - far.y)
        # It hides some of the far item (the wanted share, within a step of the search),
        # never most of it.
        assert HIDDEN[0] - 0.05 <= hidden <= HIDDEN[1] + 0.05, scene
        letters.add(scene.item.letter)
    assert letters == {"A", "B"}


def test_a_picture_shows_its_scene_in_drawing_order(flat_fashion_mnist: Path) -> None:
    # Flat photos fill their square with one colour, so each square can be checked whole.
    colour = {p: np.round(np.array(p, float) * (1 - 0.6 * TEST_INK / 255)) for p in TINTS}
    for scene in scenes(seed=1, split="test", n=6, size=SIZE):
        image = np.asarray(render(scene, SIZE), float)
        covered = np.zeros((SIZE, SIZE), bool)
        for placed in reversed(scene.items):  # the last drawn is whole; earlier, around it
            square = np.zeros((SIZE, SIZE), bool)
            square[placed.y:placed.y + placed.side, placed.x:placed.x + placed.side] = True
            visible = square & ~covered
            assert visible.any(), scene
            assert (np.abs(image[visible] - colour[placed.tint]) <= 1).all(), scene
            covered |= square
        assert (image[~covered] == BACKGROUND).all()


def test_test_pictures_hold_t10k_photos_and_training_pictures_train_photos(
        tmp_path: Path, flat_fashion_mnist: Path) -> None:
    files = write_objects_probe(tmp_path / "objects", seed=0, n_align=6, n_train=6, n_test=6,
                                image_size=96)
    dimmest_tint = min(max(t) for t in TINTS)
    test_light = dimmest_tint * (1 - 0.6 * TEST_INK / 255)
    train_dark = 255 * (1 - 0.6 * TRAIN_INK / 255)
    assert train_dark + 10 < test_light  # the two inks tell the splits apart
    for split in ("align", "train", "test"):
        for path in sorted((files.root / "img" / split).glob("*.png")):
            pixels = np.asarray(Image.open(path).convert("RGB")).reshape(-1, 3)
            ink = pixels[(pixels != BACKGROUND).any(axis=1)].max(axis=1)
            assert ink.size, path
            if split == "test":
                assert (ink >= test_light - 1).all(), path
            else:
                assert (ink <= train_dark + 1).all(), path
    assert {s.photo_split for s in scenes(0, "test", 3, 96)} == {"t10k"}
    assert {s.photo_split for sp in ("align", "train") for s in scenes(0, sp, 3, 96)} == {
        "train"}


def test_the_files_are_in_cvbench_layout_and_the_same_for_the_same_seed(
        tmp_path: Path) -> None:
    files = write_objects_probe(tmp_path / "a", seed=2, n_align=3, n_train=6, n_test=9,
                                image_size=64)
    rows = [json.loads(line) for line in files.test.read_text().splitlines()]
    assert [r["task"] for r in rows[:3]] == ["Count", "Relation", "Depth"]
    assert {r["source"] for r in rows} == {"probe-objects"}
    assert all(r["prompt"].startswith(r["question"]) for r in rows)
    assert all((files.root / r["image"]).is_file() for r in rows)
    train = json.loads(files.train.read_text())
    assert train[0]["id"] == "probe-objects-train-0" and train[0]["image"] == "img/train/000000.png"
    meta = json.loads((files.root / "meta.json").read_text())
    assert meta["fashion_mnist"] == fashion_mnist.fingerprint()

    again = write_objects_probe(tmp_path / "b", seed=2, n_align=3, n_train=6, n_test=9,
                                image_size=64)
    assert again.dataset_hash == files.dataset_hash
    for name in ("align.json", "train.json", "test.jsonl", "img/test/000004.png"):
        assert (again.root / name).read_bytes() == (files.root / name).read_bytes(), name
    other = write_objects_probe(tmp_path / "c", seed=3, n_align=3, n_train=6, n_test=9,
                                image_size=64)
    assert other.dataset_hash != files.dataset_hash
    assert other.test.read_bytes() != files.test.read_bytes()
