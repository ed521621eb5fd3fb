"""Text the commands print from data (install hints, errors, paths) is shown as written: rich
would otherwise take ``[diffusers]`` in ``encoder-harness[diffusers]`` for a style and drop it."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

import harness.sweep.service as sweep_service
from harness.cli.app import app

runner = CliRunner()


def test_the_install_hint_of_a_skipped_encoder_keeps_its_extra(tmp_path: Path,
                                                               monkeypatch) -> None:
    hint = "needs diffusers: pip install 'encoder-harness[diffusers]'"
    monkeypatch.setattr(sweep_service, "unavailable_encoders",
                        lambda strict=False: {"sd21-unet-512.laion5b": hint})
    monkeypatch.setattr(sweep_service, "available_encoder_ids",
                        lambda strict=False: ["clip-vit-l14-336.openai"])
    result = runner.invoke(app, ["sweep", "--encoders", "all", "--preset", "smoke",
                                 "--dry-run", "--format", "json", "--root", str(tmp_path)])
    assert result.exit_code == 0, result.output
    said = " ".join(result.stderr.split())
    assert "skipping sd21-unet-512.laion5b: " + hint in said
