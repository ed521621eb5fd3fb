"""``GET /api/v1/runs/{key}/protocols`` and the run page's scoring-protocol table, over a run
ingested from a folder of stored predictions and one posted without a folder."""

from __future__ import annotations

import dataclasses
import json

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from harness.record import write_record
from harness.store import ingest_paths, ingest_record
from harness.store.synthetic import synthetic_records

FOLDER_RUN, POSTED_RUN = "protocols0001", "protocols0002"


def prediction(output: str, correct: bool, idx: str, scoring: str = "generate") -> str:
    return json.dumps({"idx": idx, "task": "", "type": "", "source": "", "answer": "B",
                       "output": output, "extracted": "B" if correct else None,
                       "correct": correct, "n_choices": 4, "credit": float(correct),
                       "scoring": scoring}) + "\n"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("protocols")
    app = create_app(Settings(db_url=f"sqlite:///{root / 'h.db'}"))
    record = next(synthetic_records(encoders=1, recipes=1, benchmarks=3))
    run_dir = root / "runs" / FOLDER_RUN
    write_record(run_dir, dataclasses.replace(record, run_key=FOLDER_RUN))
    (run_dir / "predictions").mkdir()
    (run_dir / "eval").mkdir()
    # The rule reads all four as B; a strict parser only "(B)".
    (run_dir / "predictions" / "seed-image.jsonl").write_text("".join(
        prediction(o, True, str(i)) for i, o in enumerate(["b", "(b)", "The answer is B",
                                                            "(B)"])))
    (run_dir / "eval" / "seed-image_loglik.jsonl").write_text(
        prediction("B", True, "0", "loglik") + prediction("C", False, "1", "loglik"))
    (run_dir / "predictions" / "notes.jsonl").write_text("{}\n")
    (run_dir / "predictions" / "mmvp.jsonl").write_text(prediction("B", True, "0") + "oops\n")
    assert not ingest_paths(app.state.store, [run_dir]).errors
    ingest_record(app.state.store, dataclasses.replace(record, run_key=POSTED_RUN))
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c


def test_protocols_per_benchmark_with_the_spread(client: TestClient) -> None:
    response = client.get(f"/api/v1/runs/{FOLDER_RUN}/protocols")
    assert response.status_code == 200
    body = response.json()
    assert body["run_key"] == FOLDER_RUN and body["scorer"].startswith("harness scoring-v")
    [seed] = body["benchmarks"]
    assert (seed["benchmark"], seed["blind"], seed["metric"]) == ("seed-image", False,
                                                                  "accuracy")
    values = {k: r["value"] for k, r in seed["readings"].items()}
    assert values == {"strict": 25.0, "rule": 100.0, "loglik": 50.0}
    assert seed["spread"] == 75.0
    skipped = "\n".join(body["skipped"])
    assert "predictions/notes.jsonl: not the predictions of a registered benchmark" in skipped
    assert "mmvp.jsonl:2: not a prediction" in skipped  # refused, never half-scored


def test_a_posted_run_or_an_unknown_one_is_answered_plainly(client: TestClient) -> None:
    posted = client.get(f"/api/v1/runs/{POSTED_RUN}/protocols")
    assert posted.status_code == 404
    assert posted.json()["detail"] == (
        f"run {POSTED_RUN} was posted, not ingested from a folder: its predictions stay where "
        "it ran and are not reachable from here")
    unknown = client.get("/api/v1/runs/nope/protocols")
    assert unknown.status_code == 404 and unknown.json()["detail"] == "no run 'nope' in the store"


def test_the_run_page_shows_the_protocol_table(client: TestClient) -> None:
    page = client.get(f"/runs/{FOLDER_RUN}").text
    assert "<h3>Scoring protocol</h3>" in page
    table = page[page.index('id="protocols"'):page.index("</table>", page.index('id="protocols"'))]
    cells = [c.split(">", 1)[1].split("<", 1)[0] for c in table.split('<td class="num"')[1:]]
    assert cells == ["25.0", "100.0", "50.0", "75.0"]
    assert "Left out: " in page and "notes.jsonl" in page
    posted = client.get(f"/runs/{POSTED_RUN}").text
    assert "was posted, not ingested from a folder" in posted and 'id="protocols"' not in posted
