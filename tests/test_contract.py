"""The result contract is declared once: a field added to ``Score`` (here in a temporary
subclass, plus the column its one Alembic migration would add) flows through ingest, the
store's queries and the API with no other change.

The subclass replaces ``harness.record.Score`` before anything above the contract is
imported, so it runs in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = r'''
import dataclasses, json, sys
from pathlib import Path

import harness.record as contract


@dataclasses.dataclass(frozen=True)
class CalibratedScore(contract.Score):
    ece: float | None = contract.declared(
        None, doc="Expected calibration error of the option log-likelihoods.")


contract.Score = CalibratedScore

from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import Column, Float

from api.app import create_app
from api.settings import Settings
from harness.record import EncoderInfo, ResultRecord, write_record
from harness.store import Store, ingest_paths

root = Path(sys.argv[1])
url = f"sqlite:///{root / 'harness.db'}"
store = Store(url)
with store.engine.begin() as conn:  # what the field's one migration does
    Operations(MigrationContext.configure(conn)).add_column("scores", Column("ece", Float()))


def record(key: str, ece: float) -> ResultRecord:
    return ResultRecord(
        run_key=key, status="done", smoke=False,
        encoder=EncoderInfo("enc.w", "ssl", "self", "vit", 224, tiny=False),
        recipe="frozen", llm="llm", connector="mlp2x_gelu", seed=0, preset="full", config={},
        scores=(CalibratedScore("mmvp", "pair_accuracy", "overall", 40.0, 150, ece=ece,
                                range_min=0.0, range_max=100.0),))


write_record(root / "runs" / "fromfile", record("fromfile", 0.25))
report = ingest_paths(store, [root / "runs" / "fromfile"])
assert report.ok, report.errors
api = TestClient(create_app(Settings(db_url=url, token="t0ken")), base_url="http://127.0.0.1")
posted = api.post("/api/v1/results", headers={"Authorization": "Bearer t0ken"},
                  json=json.loads(record("posted", 0.5).to_json()))
out = {
    "posted": posted.status_code,
    "detail": api.get("/api/v1/runs/fromfile").json()["scores"][0],
    "scores": api.get("/api/v1/scores", params={"run_key": "posted"}).json()["items"][0],
    "leaderboard": api.get("/api/v1/leaderboard").json()["rows"],
    "csv": api.get("/api/v1/export/scores").text.splitlines(),
    "schema": api.get("/openapi.json").json()["components"]["schemas"]["ScoreFields"],
}
print(json.dumps(out))
'''


def test_a_field_added_to_score_reaches_the_store_and_the_api(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True,
                          text=True, timeout=120, cwd=Path(__file__).parent.parent)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.splitlines()[-1])
    assert out["posted"] == 201
    assert out["detail"]["ece"] == 0.25  # read from a run folder
    assert out["scores"]["ece"] == 0.5  # posted to the API
    assert sorted(r["ece"] for r in out["leaderboard"]) == [0.25, 0.5]
    header, *rows = out["csv"]
    assert "ece" in header.split(",") and len(rows) == 2
    assert out["schema"]["properties"]["ece"]["description"].startswith("Expected calibration")
