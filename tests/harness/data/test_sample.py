"""``harness data sample``: a miniature data root from real photographs, in the release
layouts, that ``--preset sample`` trains on and scores all sixteen Table 5 columns of, with
complete category averages on the API and nothing scheduled the second time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageStat

from api.app import create_app
from api.settings import Settings
from harness.data.sample import write_sample
from harness.errors import HarnessError


def harness(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from harness.cli.app import main; main()",
                           *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})


def test_the_sample_root_trains_and_fills_every_category(tmp_path: Path) -> None:
    data = tmp_path / "data"
    wrote = write_sample(data)
    assert len(wrote["benchmarks"]) == 15  # the benchmarks of Table 5's sixteen columns
    with Image.open(data / "llava-558k" / "images" / "00000" / "000000002.jpg") as photo:
        assert photo.width != photo.height  # a photograph's own aspect, not a square
        assert max(ImageStat.Stat(photo.convert("L")).stddev) > 20  # not a solid colour
    with pytest.raises(HarnessError, match="is not empty"):
        write_sample(data)

    root, db = tmp_path / "runs", f"sqlite:///{tmp_path / 'h.db'}"
    args = ["sweep", "--encoders", "clip-vit-l14-336.openai", "--preset", "sample",
            "--data-root", str(data), "--root", str(root), "--db", db, "--executor", "debug"]
    first = harness(*args)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "1 done, 0 failed" in first.stdout
    api = TestClient(create_app(Settings(db_url=db)), base_url="http://127.0.0.1")
    body = api.get("/api/v1/leaderboard/category", params={"include_smoke": True}).json()
    assert body["columns"] == ["General", "Knowledge", "OCR & Chart", "Vision-Centric"]
    [row] = body["rows"]
    assert row["smoke"] is True and row["counts"] == dict.fromkeys(body["columns"], 4)
    assert set(row["values"]) == set(body["columns"])
    second = harness(*args)
    assert second.returncode == 0 and "Nothing new to run" in second.stdout
