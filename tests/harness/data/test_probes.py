"""Probe kinds: each is written to its own folder, the shapes probe exactly where and as it always
was, and a run training on several gets their conversations mixed, images found from one root."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.config import from_mapping, identity
from harness.data.probe import write_probe
from harness.data.probes import KINDS, write_probes
from harness.errors import HarnessError
from harness.preset import ProbeData

SIZES = {"seed": 1, "n_align": 4, "n_train": 5, "n_test": 3, "image_size": 64}


def test_kinds_default_to_shapes_and_stay_out_of_identity_there() -> None:
    assert ProbeData().kinds == ("shapes",)
    assert "kinds" not in identity(ProbeData())
    both = from_mapping(ProbeData, {"kinds": ["objects", "shapes"]}, where="[data]")
    assert both.kinds == ("shapes", "objects")  # one order, so one key, for one set of data
    assert identity(both)["kinds"] == ["shapes", "objects"]


@pytest.mark.parametrize("kinds", [[], ["shapes", "shapes"], ["photos"]])
def test_bad_kinds_are_refused_naming_the_valid_ones(kinds: list[str]) -> None:
    with pytest.raises(HarnessError, match="give one or more of shapes, objects"):
        from_mapping(ProbeData, {"kinds": kinds}, where="[data]")


def test_the_shapes_probe_is_written_where_and_as_it_was(tmp_path: Path) -> None:
    probes = write_probes(tmp_path / "new", ProbeData(**SIZES))
    old = write_probe(tmp_path / "old", **SIZES)
    assert probes.files["shapes"].root == tmp_path / "new"
    for name in ("align.json", "train.json", "test.jsonl", "meta.json", "img/test/000002.png"):
        assert (tmp_path / "new" / name).read_bytes() == (old.root / name).read_bytes()
    assert probes.conversations("train") == json.loads(old.train.read_text())


def test_two_kinds_take_turns_with_images_found_from_the_root(tmp_path: Path) -> None:
    probes = write_probes(tmp_path, ProbeData(**SIZES, kinds=("shapes", "objects")))
    assert (tmp_path / KINDS["objects"].folder / "test.jsonl").is_file()
    rows = probes.conversations("train")
    assert len(rows) == 2 * SIZES["n_train"] and len({r["id"] for r in rows}) == len(rows)
    assert [r["id"] for r in rows[:4]] == ["probe-train-0", "probe-objects-train-0",
                                           "probe-train-1", "probe-objects-train-1"]
    assert rows[1]["image"] == "objects/img/train/000000.png"
    assert all((tmp_path / r["image"]).is_file() for r in rows)
    assert len(probes.conversations("align")) == 2 * SIZES["n_align"]
