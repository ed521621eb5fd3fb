"""Per-source balancing and the short-answer prompt switch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli.app import app
from harness.data.mixture import balance, read_sources, with_short_answer_prompt
from harness.errors import HarnessError


def entry(i: int, source: str | None, answer: str = "B") -> dict:
    e = {"id": str(i), "image": f"{i}.png", "conversations": [
        {"from": "human", "value": "<image>\nWhat is it?"}, {"from": "gpt", "value": answer}]}
    if source:
        e["source"] = source
    return e


def test_balance_caps_each_source_and_keeps_small_ones() -> None:
    pairs = [("big", entry(i, "big")) for i in range(10)] + [("small", entry(99, "small"))]
    kept, counts = balance(pairs, threshold=4, seed=1)
    assert [(c.source, c.before, c.after) for c in counts] == [("big", 10, 4), ("small", 1, 1)]
    assert len(kept) == 5
    assert balance(pairs, 4, seed=1)[0] == kept          # seeded
    assert balance(pairs, 4, seed=2)[0] != kept          # and the seed matters
    assert balance(pairs, None)[0] == [e for _, e in pairs]
    with pytest.raises(HarnessError, match="bad threshold 0"):
        balance(pairs, 0)


def test_sources_fall_back_to_the_file_name(tmp_path: Path) -> None:
    tagged = tmp_path / "mix.jsonl"
    tagged.write_text("".join(json.dumps(entry(i, "coco")) + "\n" for i in range(3)))
    untagged = tmp_path / "chartqa.json"
    untagged.write_text(json.dumps([entry(7, None)]))
    assert [s for s, _ in read_sources([tagged, untagged])] == ["coco"] * 3 + ["chartqa"]
    with pytest.raises(HarnessError, match="no such data file"):
        read_sources([tmp_path / "missing.json"])


def test_short_answer_prompt_only_on_short_answers() -> None:
    short = with_short_answer_prompt(entry(1, "vqa", "two dogs"))
    assert short["conversations"][0]["value"].endswith(
        "Answer the question using a single word or phrase.")
    long = entry(2, "chat", "The image shows two dogs playing in a park.")
    assert with_short_answer_prompt(long) == long
    assert with_short_answer_prompt(short) == short  # never added twice


def test_data_mix_command(tmp_path: Path) -> None:
    src = tmp_path / "train.jsonl"
    src.write_text("".join(json.dumps(entry(i, "a" if i % 3 else "b")) + "\n"
                           for i in range(30)))
    out = tmp_path / "mix.jsonl"
    result = CliRunner().invoke(app, ["data", "mix", str(src), "--out", str(out),
                                      "--threshold", "5", "--short-answer-prompt"],
                                env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line.split("│")[2:4]
            for line in result.output.splitlines() if line.count("│") == 4}
    assert [v.strip() for v in rows["a"]] == ["20", "5"]
    assert [v.strip() for v in rows["total"]] == ["30", "10"]
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 10
    assert all("single word" in e["conversations"][0]["value"] for e in lines)
