"""Plugins for real: the example package and a deliberately broken one are pip-installed into
this virtual environment (for this module only) and discovered through their entry points."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import harness.cli.encoders as cli_encoders
import harness.encoder as encoder_module
import harness.sweep.plan as sweep_plan
import harness.sweep.service as sweep_service
from harness.cli.app import app
from harness.encoder import EncoderSpec, available_encoder_ids
from harness.errors import HarnessError
from harness.loaders import build_encoder
from harness.registry import Registry

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = {"harness-example-encoders": ROOT / "examples" / "encoder-plugin",
           "harness-broken-encoders": ROOT / "examples" / "broken-encoder-plugin"}


def pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "-q", "--disable-pip-version-check", *args],
                   check=True, capture_output=True, text=True)


@pytest.fixture(scope="module")
def installed() -> Iterator[None]:
    # A plain (non-editable) install is importable at once; no deps, no network, no isolation.
    pip("install", "--no-deps", "--no-build-isolation", "--no-index", *map(str, PLUGINS.values()))
    importlib.invalidate_caches()
    try:
        yield
    finally:
        pip("uninstall", "-y", *PLUGINS)
        for name in ("harness_example_encoders", "harness_broken_encoders"):
            sys.modules.pop(name, None)


@pytest.fixture
def registry(installed, monkeypatch: pytest.MonkeyPatch) -> Registry[EncoderSpec]:
    """A registry that discovers afresh (the process-wide one ran before the install)."""
    fresh = Registry("encoder", "harness.encoders", name_of=lambda s: s.id,
                     item_type=EncoderSpec)
    for module in (encoder_module, cli_encoders, sweep_service, sweep_plan):
        monkeypatch.setattr(module, "ENCODERS", fresh)
    return fresh


def test_example_plugin_encoders_arrive_with_their_distribution(registry) -> None:
    assert {"deit-s16-224.fb-in1k", "resnet50-224.tv-in1k"} <= set(registry.names())
    provenance = registry.provenance("deit-s16-224.fb-in1k")
    assert (provenance.distribution, provenance.version) == ("harness-example-encoders",
                                                             "0.2.0")
    assert "deit-s16-224.fb-in1k" in available_encoder_ids()
    rows = {r["id"]: r for r in cli_encoders.encoder_rows()}
    assert rows["resnet50-224.tv-in1k"]["distribution_version"] == "0.2.0"
    assert rows["clip-vit-l14-336.openai"]["distribution"] == "encoder-harness"


@pytest.mark.parametrize("encoder_id", ["deit-s16-224.fb-in1k", "resnet50-224.tv-in1k"])
def test_example_plugin_twins_keep_the_contract(registry, encoder_id: str) -> None:
    result = cli_encoders.check_encoder(registry.get(encoder_id), tiny=True, batch=2,
                                        repeats=1)
    assert result["ok"], result["checks"]
    assert 1 < result["grid"][0] * result["grid"][1] <= 64


def test_broken_plugin_is_reported_by_name_and_skipped(registry) -> None:
    reasons = {p.entry_point: p for p in registry.discover()}
    assert set(reasons) == {"broken_import", "broken_spec", "broken_value", "broken_duplicate"}
    assert all(p.distribution == "harness-broken-encoders" for p in reasons.values())
    assert "ModuleNotFoundError" in reasons["broken_import"].reason
    assert "expected EncoderSpec, got dict" in reasons["broken_spec"].reason
    assert "duplicate encoder 'clip-vit-l14-336.openai'" in reasons["broken_duplicate"].reason
    assert ("bad architecture 'resnet'; valid: vit, convnet"
            in reasons["broken_value"].reason)
    # The others keep working: the built-in kept its id, the broken package's good entry loads.
    assert registry.provenance("clip-vit-l14-336.openai").distribution == "encoder-harness"
    assert registry.get("clip-vit-l14-336.openai").source == "vit_large_patch14_clip_336"
    assert "fine-vit-s16-224.none" in registry.names()
    assert build_encoder(registry.get("fine-vit-s16-224.none"), tiny=True).grid == (8, 8)


def test_cli_lists_plugins_and_warns_once_about_each_broken_one(
        registry, caplog: pytest.LogCaptureFixture) -> None:
    result = CliRunner().invoke(app, ["encoders", "list", "--group", "other"])
    assert result.exit_code == 0, result.output
    said = [r.getMessage() for r in caplog.records] + result.output.splitlines()
    for entry_point in ("broken_import", "broken_spec", "broken_value", "broken_duplicate"):
        about = [line for line in said if f"plugin {entry_point!r}" in line]
        assert len(about) == 1, about
    assert any("skipping plugin 'broken_import' from harness-broken-encoders: "
               "ModuleNotFoundError" in line for line in said)
    listed = CliRunner().invoke(app, ["encoders", "list", "--format", "json"])
    assert '"id": "deit-s16-224.fb-in1k"' in listed.output
    assert '"distribution": "harness-example-encoders"' in listed.output


def test_asking_for_an_encoder_of_a_skipped_plugin_names_the_plugin_and_its_problem(
        registry, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["sweep", "--encoders", "resnet18-224.tv-in1k", "--preset",
                                      "smoke", "--dry-run", "--root", str(tmp_path)])
    assert result.exit_code != 0
    assert str(result.exception) == (
        "encoder 'resnet18-224.tv-in1k' is not available: it comes from plugin 'broken_value'"
        " from harness-broken-encoders: HarnessError: encoder 'resnet18-224.tv-in1k': bad"
        " architecture 'resnet'; valid: vit, convnet; the plugin was skipped")
    # A name nobody provides lists the valid ones and the plugins that were skipped.
    with pytest.raises(HarnessError, match=r"unknown encoder 'nope\.x'; valid: .*"
                                           r"fine-vit-s16-224\.none.*; skipped plugin"
                                           r" 'broken_import' from harness-broken-encoders"):
        registry.get("nope.x")


def test_strict_makes_a_broken_plugin_fatal(registry) -> None:
    with pytest.raises(HarnessError, match=r"broken encoder plugin: plugin 'broken_\w+'"
                                           " from harness-broken-encoders: "):
        cli_encoders.encoder_rows(strict=True)
