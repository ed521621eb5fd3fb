"""A preset's ``[data] kinds``: shapes alone keeps every run key and folder it had, the objects
probe is planned only when its photos are there and only scored when generated, and a sweep
trains on both kinds and scores each with its own benchmark."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli.app import app
from harness.data import fashion_mnist
from harness.errors import HarnessError
from harness.record import read_record

from .conftest import MINI_PRESET, plan_mini

BOTH_KINDS = MINI_PRESET.replace(
    'recipes = ["frozen", "unfrozen"]\n',
    'recipes = ["frozen", "unfrozen"]\nbenchmarks = ["probe", "probe-objects"]\n',
).replace("[data]\n", '[data]\nkinds = ["shapes", "objects"]\n')


def preset_file(tmp_path: Path, text: str, name: str = "preset") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


def test_naming_the_shapes_kind_changes_no_key_or_folder(tmp_path: Path,
                                                         mini_preset: Path) -> None:
    named = preset_file(tmp_path, MINI_PRESET.replace("[data]\n", '[data]\nkinds = ["shapes"]\n'))
    [before], [after] = plan_mini(tmp_path, mini_preset), plan_mini(tmp_path, named)
    assert after.key == before.key and after.data_dir == before.data_dir


def test_a_preset_with_both_kinds_plans_each_benchmark(tmp_path: Path,
                                                       mini_preset: Path) -> None:
    [shapes] = plan_mini(tmp_path, mini_preset)
    [both] = plan_mini(tmp_path, preset_file(tmp_path, BOTH_KINDS))
    assert both.config.data.kinds == ("shapes", "objects")
    assert [b["name"] for b in both.config.benchmarks] == ["probe", "probe-objects"]
    assert both.key != shapes.key and both.data_dir != shapes.data_dir


def test_scoring_the_objects_probe_without_generating_it_is_refused(
        tmp_path: Path) -> None:
    scores_only = preset_file(tmp_path, BOTH_KINDS.replace('kinds = ["shapes", "objects"]\n', ""))
    with pytest.raises(HarnessError) as caught:
        plan_mini(tmp_path, scores_only)
    assert str(caught.value) == (
        "preset 'mini' scores 'probe-objects' but [data] kinds = ['shapes'] does not generate"
        " it; add 'objects' to [data] kinds")


def test_missing_fashion_mnist_is_a_one_line_error_when_planning(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "no-fashion-mnist"
    empty.mkdir()
    monkeypatch.setenv(fashion_mnist.ENV_VAR, str(empty))
    with pytest.raises(HarnessError) as caught:
        plan_mini(tmp_path, preset_file(tmp_path, BOTH_KINDS))
    message = str(caught.value)
    assert "\n" not in message and str(empty) in message
    assert "apt-get install dataset-fashion-mnist" in message and fashion_mnist.ENV_VAR in message
    assert not (tmp_path / "data").exists()  # nothing was generated


def test_a_sweep_trains_on_both_kinds_and_scores_each(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, [
        "sweep", "--preset", str(preset_file(tmp_path, BOTH_KINDS)),
        "--encoders", "clip-vit-l14-336.openai", "--recipes", "frozen",
        "--root", str(tmp_path / "root"), "--db", f"sqlite:///{tmp_path / 'h.db'}",
        "--executor", "debug"])
    assert result.exit_code == 0, result.output
    [folder] = (tmp_path / "root" / "runs").iterdir()
    record = read_record(folder)
    assert record.status == "done", record.error
    overall = {s.benchmark: s for s in record.scores
               if s.subset == "overall" and s.metric == "accuracy"}
    assert set(overall) == {"probe", "probe-objects"}
    assert overall["probe-objects"].n == overall["probe"].n == 9
    objects = {s.subset for s in record.scores if s.benchmark == "probe-objects"}
    assert {"cvbench:2D", "cvbench:3D", "task:Depth", "source:probe-objects"} <= objects
    # Both kinds' pictures, training and test, went through the frozen encoder once, into
    # the feature cache, and each test set was scored from it (no encoder forward again).
    cache = record.train["feature_cache"]
    assert cache["used"] and cache["images"] == cache["encoder_forwards"] == 2 * (8 + 12 + 9)
