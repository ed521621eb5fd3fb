"""``harness encoders show`` and ``check``: shapes without weights, the contract with throughput,
one-line errors for what cannot be built."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from harness.cli.app import app
from harness.cli.encoders import check_encoder, describe_encoder, encoder_rows, twin_size_check
from harness.encoder import ENCODERS, EncoderSpec

runner = CliRunner()


def test_show_measures_the_real_network_without_weights() -> None:
    info = describe_encoder(ENCODERS.get("sam-vit-h16-1024.sa1b"))
    assert info["grid"] == [64, 64] and info["embed_dim"] == 1280
    assert 600_000_000 < info["parameters"] < 700_000_000  # SAM ViT-H's image encoder
    assert (info["source"], info["weights"]) == ("samvit_huge_patch16", "sa1b")
    tiny = describe_encoder(ENCODERS.get("effnet-lite0-224.in1k"), tiny=True)
    assert tiny["source"] == "test_efficientnet" and tiny["weights"] is None


def test_show_cli_json() -> None:
    result = runner.invoke(app, ["encoders", "show", "clip-vit-l14-336.openai",
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["grid"] == [24, 24] and info["embed_dim"] == 1024
    assert info["resolution"] == 336 and info["distribution"] == "encoder-harness"


def test_show_without_an_offline_config_says_why() -> None:
    info = describe_encoder(ENCODERS.get("ijepa-vit-h14-224.in1k"))
    assert "grid" not in info and "facebook/ijepa_vith14_1k" in info["shape_note"]


def test_check_tiny_runs_the_contract() -> None:
    result = runner.invoke(app, ["encoders", "check", "siglip-vit-l16-384.webli", "--tiny",
                                 "--format", "json", "--batch", "2", "--repeats", "1"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["ok"] and report["grid"] == [8, 8] and report["images_per_second"] > 0
    assert {c["name"] for c in report["checks"]} >= {"tokens [B, h*w, C]", "deterministic",
                                                     "frozen", "trainable", "transform"}


def test_check_real_effnet_weights_offline() -> None:
    report = check_encoder(ENCODERS.get("effnet-lite0-224.in1k"), tiny=False, batch=2,
                           repeats=1)
    assert report["ok"] and report["grid"] == [7, 7] and report["embed_dim"] == 320


def test_check_without_weights_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path) -> None:
    monkeypatch.setenv("HARNESS_WEIGHTS_DIR", str(tmp_path))
    result = runner.invoke(app, ["encoders", "check", "mocov3-vit-l16-224.in1k"])
    assert result.exit_code != 0
    assert "no weights for encoder 'mocov3-vit-l16-224.in1k'" in str(result.exception)


def test_unknown_id_lists_the_valid_ones() -> None:
    result = runner.invoke(app, ["encoders", "show", "clip-vit-l14-999.nope"])
    assert result.exit_code != 0
    assert "valid: clip-vit-l14-224.openai" in str(result.exception)


def test_list_rows_carry_requirements() -> None:
    rows = {r["id"]: r for r in encoder_rows()}
    assert rows["sd21-unet-512.laion5b"]["requires"] == ["diffusers"]
    assert rows["sd21-unet-512.laion5b"]["extra"] == "diffusers"
    assert rows["sd21-unet-512.laion5b"]["available"]  # the test extra installs it


def test_every_built_in_twin_is_described_and_tiny() -> None:
    # On the meta device: no weights, no memory. OpenCLIP twins must stay there too.
    for spec in ENCODERS.items():
        info = describe_encoder(spec, tiny=True)
        if info["missing"]:
            continue  # an optional extra that is not installed
        assert "shape_note" not in info, (spec.id, info.get("shape_note"))
        assert twin_size_check(info["parameters"], info["embed_dim"], info["tokens"])[1], spec.id


def test_a_twin_that_overrides_leave_wide_fails_the_size_check() -> None:
    # A first guess at a ResNet-50 twin: one block per stage. Still 10M parameters.
    spec = EncoderSpec(id="resnet50-224.guess", group="other", supervision="labels",
                       architecture="convnet", resolution=224, loader="timm", source="resnet50",
                       feature_layer=-1, tiny={"layers": [1, 1, 1, 1]}, tiny_resolution=64)
    result = check_encoder(spec, tiny=True, batch=1, repeats=1)
    size = next(c for c in result["checks"] if c["name"] == "tiny twin size")
    assert not size["ok"] and not result["ok"]
    assert "2048-wide tokens" in size["detail"] and "tiny_source" in size["detail"]
