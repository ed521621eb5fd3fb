"""The probe's labels are checked against the pixels, and its files against CV-Bench's layout."""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness.data.probe import COLORS, write_probe

CVBENCH_FIELDS = {"idx", "type", "task", "source", "choices", "prompt", "answer", "image"}


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    root = tmp_path_factory.mktemp("probe")
    return write_probe(root, seed=3, n_align=6, n_train=9, n_test=60, image_size=128)


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def mask_of(image: np.ndarray, color: str) -> np.ndarray:
    return (image == np.array(COLORS[color])).all(axis=-1)


def components(mask: np.ndarray) -> int:
    """Connected blobs in a boolean mask (4-neighbour flood fill)."""
    seen = np.zeros_like(mask)
    count = 0
    for start in zip(*np.nonzero(mask), strict=True):
        if seen[start]:
            continue
        count += 1
        queue = deque([start])
        seen[start] = True
        while queue:
            y, x = queue.popleft()
            for ny, nx in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
                if (0 <= ny < mask.shape[0] and 0 <= nx < mask.shape[1] and mask[ny, nx]
                        and not seen[ny, nx]):
                    seen[ny, nx] = True
                    queue.append((ny, nx))
    return count


def answer_text(row: dict) -> str:
    return row["choices"]["ABCDEFGH".index(row["answer"].strip("()"))]


def test_test_set_is_in_cvbench_layout(probe) -> None:
    test = rows(probe.test)
    assert len(test) == 60
    for row in test:
        assert set(row) >= CVBENCH_FIELDS
        assert row["answer"] in {f"({c})" for c in "ABCD"[: len(row["choices"])]}
        assert {"Count": "2D", "Relation": "2D", "Depth": "3D"}[row["task"]] == row["type"]
        assert row["prompt"].startswith(row["question"])
        assert (probe.root / row["image"]).is_file()
    assert {r["task"] for r in test} == {"Count", "Relation", "Depth"}


def test_labels_match_the_pixels(probe) -> None:
    for row in rows(probe.test):
        image = np.asarray(Image.open(probe.root / row["image"]).convert("RGB"))
        words = row["question"].replace("?", "").split()
        if row["task"] == "Count":
            color = words[2]  # "How many <color> <shape>s ..."
            assert components(mask_of(image, color)) == int(answer_text(row)), row
        elif row["task"] == "Relation":
            first, second = [w for w in words if w in COLORS][:2]
            x_first = np.nonzero(mask_of(image, first))[1].mean()
            x_second = np.nonzero(mask_of(image, second))[1].mean()
            assert answer_text(row) == ("left" if x_first < x_second else "right"), row
        else:
            near = answer_text(row).split()[0]
            far = next(c.split()[0] for c in row["choices"] if c != answer_text(row))
            # The nearer object is drawn larger and in front, so more of it is visible.
            assert mask_of(image, near).sum() > mask_of(image, far).sum(), row


def test_answers_are_not_all_one_letter(probe) -> None:
    for task in ("Count", "Relation", "Depth"):
        answers = {r["answer"] for r in rows(probe.test) if r["task"] == task}
        assert len(answers) > 1, task


def test_training_conversations_teach_the_letter(probe) -> None:
    train = json.loads(probe.train.read_text())
    assert len(train) == 9
    for conv in train:
        human, gpt = conv["conversations"]
        assert human["from"] == "human" and human["value"].startswith("<image>\n")
        assert human["value"].endswith("Answer with the option's letter from the given "
                                       "choices directly.")
        assert gpt["from"] == "gpt" and gpt["value"] in "ABCD"
    align = json.loads(probe.align.read_text())
    assert len(align) == 6 and all(c["conversations"][1]["value"] for c in align)


def test_same_seed_same_files(tmp_path: Path, probe) -> None:
    again = write_probe(tmp_path, seed=3, n_align=6, n_train=9, n_test=60, image_size=128)
    assert again.dataset_hash == probe.dataset_hash
    assert again.test.read_bytes() == probe.test.read_bytes()
    first = next(iter(rows(probe.test)))["image"]
    assert (tmp_path / first).read_bytes() == (probe.root / first).read_bytes()
    other = write_probe(tmp_path / "other", seed=4, n_align=6, n_train=9, n_test=60)
    assert other.dataset_hash != probe.dataset_hash
    assert other.test.read_bytes() != probe.test.read_bytes()
