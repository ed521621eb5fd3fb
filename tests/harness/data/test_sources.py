"""Training data sources: registered like encoders, read in their release's layout, a user's
own file declared in TOML, and a seeded subsample that never oversamples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.data.sources import DATA_SOURCES, load_source_file, subsample
from harness.errors import HarnessError


def test_built_in_sources_and_their_release_files() -> None:
    assert {"probe", "llava-558k", "llava-665k", "cambrian-adapter-1.2m",
            "cambrian-737k"} <= set(DATA_SOURCES.names())
    assert DATA_SOURCES.get("llava-558k").annotations == "blip_laion_cc_sbu_558k.json"
    assert "vg/VG_100K_2" in DATA_SOURCES.get("llava-665k").image_folders
    assert DATA_SOURCES.get("probe").procedural
    for name in ("cambrian-adapter-1.2m", "cambrian-737k"):
        assert DATA_SOURCES.get(name).uncertain  # what is not known is said


def test_a_user_source_is_a_toml_file_beside_its_data(tmp_path: Path) -> None:
    (tmp_path / "conv.jsonl").write_text(
        json.dumps({"id": "1", "image": "a.png", "conversations": [
            {"from": "human", "value": "<image>\nWhat?"}, {"from": "gpt", "value": "A."}]})
        + "\n")
    toml = tmp_path / "mine.toml"
    toml.write_text('name = "mine"\nannotations = "conv.jsonl"\nimage_root = "imgs"\n')
    source = load_source_file(toml)
    assert source.root(None) == tmp_path and source.images(None) == tmp_path / "imgs"
    assert [r["id"] for r in source.load(None)] == ["1"]
    toml.write_text('name = "mine"\nannotation = "conv.jsonl"\n')
    with pytest.raises(HarnessError, match="unknown key 'annotation'; valid: .*annotations"):
        load_source_file(toml)


def test_a_registered_source_needs_a_data_root() -> None:
    with pytest.raises(HarnessError, match="--data-root DIR, \\$HARNESS_DATA"):
        DATA_SOURCES.get("llava-558k").root(None)


def test_subsample_is_seeded_ordered_and_never_oversamples() -> None:
    rows = [{"id": i} for i in range(100)]
    first = subsample(rows, 10, "s", "align")
    assert first == subsample(rows, 10, "s", "align") and len(first) == 10
    assert [r["id"] for r in first] == sorted(r["id"] for r in first)
    assert subsample(rows, None, "s", "align") is rows
    with pytest.raises(HarnessError, match="asks for 101 samples but data source 's' has 100"):
        subsample(rows, 101, "s", "align")
