"""Issue 16's probes against the app: a large or tokenless body is refused before it is read,
hostile text (lone surrogates, "/" in keys, spreadsheet formulas) is refused or defused, a
stranger Host gets 400, and ``harness serve`` shows no secret and takes none in argv."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import api.app
from api import cli
from api.app import create_app
from api.routes.export import _csv_lines
from api.settings import Settings
from harness.errors import HarnessError
from harness.store import ingest_record
from harness.store.synthetic import synthetic_records

TOKEN = "hardening-token"
LOCAL = "http://127.0.0.1"
LIMIT = 64 * 1024
CHUNK = 16 * 1024


def record_body(**changes: Any) -> dict[str, Any]:
    record = json.loads(next(synthetic_records(encoders=1, recipes=1, benchmarks=3)).to_json())
    record.update(changes)
    return record


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return create_app(Settings(db_url=f"sqlite:///{tmp_path / 'h.db'}", token=TOKEN,
                               max_body_bytes=LIMIT))


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url=LOCAL) as c:
        yield c


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- body size and token, before the body is read ----------------------------------------------


@dataclasses.dataclass
class Sent:
    status: int
    detail: str
    chunks_read: int


def post_raw(app: FastAPI, headers: dict[str, str], chunks: int) -> Sent:
    """POST /api/v1/results straight through ASGI, the body offered in up to ``chunks`` chunks
    of CHUNK bytes: returns the answer and how many chunks the app pulled. Pulling more than
    the limit allows fails the test at once."""
    pulled = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        assert pulled * CHUNK <= LIMIT + CHUNK, "read on past the body limit"
        return {"type": "http.request", "body": b" " * CHUNK, "more_body": pulled < chunks}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": "/api/v1/results",
             "raw_path": b"/api/v1/results", "query_string": b"", "root_path": "",
             "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000),
             "headers": [(k.lower().encode(), v.encode()) for k, v in
                         {"host": "127.0.0.1:8000", "content-type": "application/json",
                          **headers}.items()]}
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return Sent(start["status"], json.loads(body)["detail"], pulled)


def test_a_declared_oversize_body_is_413_unread(app: FastAPI) -> None:
    sent = post_raw(app, {"content-length": str(100 * 2**20), **auth()}, chunks=6400)
    assert (sent.status, sent.chunks_read) == (413, 0)
    assert f"limit of {LIMIT} bytes" in sent.detail and "--max-body-bytes" in sent.detail


def test_a_streamed_oversize_body_is_413_once_past_the_limit(app: FastAPI) -> None:
    # Chunked: no Content-Length, so only the running count can stop it (6400 chunks = 100 MB).
    sent = post_raw(app, auth(), chunks=6400)
    assert sent.status == 413 and sent.chunks_read == LIMIT // CHUNK + 1


@pytest.mark.parametrize("headers", [{}, auth("wrong"),
                                     {"content-length": str(LIMIT - 1), **auth("wrong")}])
def test_no_token_is_refused_before_the_body_is_read(app: FastAPI, headers: dict) -> None:
    sent = post_raw(app, headers, chunks=6400)
    assert (sent.status, sent.chunks_read) == (401, 0)


def test_closed_write_routes_read_no_body(tmp_path: Path) -> None:
    closed = create_app(Settings(db_url=f"sqlite:///{tmp_path / 'h.db'}"))
    sent = post_raw(closed, auth(), chunks=6400)
    assert (sent.status, sent.chunks_read) == (403, 0)


def test_body_limit_setting_is_checked() -> None:
    with pytest.raises(HarnessError, match="--max-body-bytes 0"):
        Settings(db_url="sqlite://", max_body_bytes=0)


def test_a_record_under_the_limit_still_posts(client: TestClient) -> None:
    response = client.post("/api/v1/results", json=record_body(), headers=auth())
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(("raw", "content_type", "expect"), [
    (b"[1, 2]", "application/json", (422, "a record is an object")),
    (b"{not json", "application/json", (422, "body is not JSON")),
    (b"\xff\xfe{}", "application/json", (422, "body is not JSON")),
    (b"[" * 5000 + b"]" * 5000, "application/json", (422, "nested too deeply")),
    (b"{}", "text/plain", (415, "send application/json")),
])
def test_a_bad_body_is_one_line_4xx(client: TestClient, raw: bytes, content_type: str,
                                    expect: tuple[int, str]) -> None:
    response = client.post("/api/v1/results", content=raw,
                           headers={**auth(), "Content-Type": content_type})
    assert response.status_code == expect[0] and expect[1] in response.json()["detail"]
    assert "\n" not in response.json()["detail"]


# -- hostile text --------------------------------------------------------------------------


def test_a_deeply_nested_record_is_422_not_500(client: TestClient) -> None:
    # Parsed JSON, but deeper than the store's serialisers recurse.
    nested = '{"a":' * 500 + "1" + "}" * 500
    raw = json.dumps(record_body())[:-1] + f', "train": {nested}}}'
    response = client.post("/api/v1/results", content=raw,
                           headers={**auth(), "Content-Type": "application/json"})
    assert response.status_code == 422 and "nests deeper than" in response.json()["detail"]


@pytest.mark.parametrize("where", ["run_key", "recipe", "encoder"])
def test_a_lone_surrogate_is_422_not_500(client: TestClient, where: str) -> None:
    record = record_body()
    if where == "encoder":
        record["encoder"]["id"] = "clip\ud800"
    else:
        record[where] = "abc\ud800"
    # json.dumps escapes it as \ud800, as a careless client's JSON would.
    response = client.post("/api/v1/results", content=json.dumps(record),
                           headers={**auth(), "Content-Type": "application/json"})
    assert response.status_code == 422 and "lone surrogate" in response.json()["detail"]
    assert client.get("/api/v1/runs").json()["total"] == 0


@pytest.mark.parametrize("path", ["/api/v1/runs/%ED%A0%80", "/runs/%ED%A0%80",
                                  "/api/v1/runs?encoder=%ED%A0%80",
                                  "/api/v1/export/scores?recipe=%ED%A0%80"])
def test_undecodable_bytes_in_a_url_are_never_a_500(client: TestClient, path: str) -> None:
    assert client.get(path).status_code < 500


@pytest.mark.parametrize("key", ["a/b", "..", ".hidden", "a b", "a\\b", "x?y", "k" * 65])
def test_a_key_a_url_cannot_read_back_is_refused(client: TestClient, key: str) -> None:
    response = client.post("/api/v1/results", json=record_body(run_key=key), headers=auth())
    assert response.status_code == 422
    assert "letters A-Z and a-z, the digits 0-9" in response.json()["detail"]
    assert client.get("/api/v1/runs").json()["total"] == 0


def test_every_accepted_key_reads_back(client: TestClient) -> None:
    for key in ["ab12-cd_34.v2", "_x", "-", "K" * 64]:
        assert client.post("/api/v1/results", json=record_body(run_key=key),
                           headers=auth()).status_code == 201
        assert client.get(f"/api/v1/runs/{key}").json()["run_key"] == key


def test_csv_cells_never_start_a_formula() -> None:
    rows = [{"name": "=cmd()", "value": -5.0}, {"name": "-2+3+cmd|'/C calc'!A0", "value": -5},
            {"name": "@SUM(A1)", "value": "-5"}, {"name": "+1", "value": 1e9},
            {"name": "\t=x", "value": ""}, {"name": "plain", "value": None}]
    text = "".join(_csv_lines(["name", "value", "=HYPERLINK()"], rows))
    header, *cells = list(csv.reader(io.StringIO(text)))
    assert header == ["name", "value", "'=HYPERLINK()"]
    assert [c[0] for c in cells] == ["'=cmd()", "'-2+3+cmd|'/C calc'!A0", "'@SUM(A1)", "+1",
                                     "'\t=x", "plain"]
    assert [c[1] for c in cells] == ["-5.0", "-5", "-5", "1000000000.0", "", ""]


def test_the_score_export_defuses_a_hostile_recipe(app: FastAPI, client: TestClient) -> None:
    record = next(synthetic_records(encoders=1, recipes=1, benchmarks=3))
    assert ingest_record(app.state.store, dataclasses.replace(record, recipe="=cmd()"))
    rows = list(csv.DictReader(io.StringIO(client.get("/api/v1/export/scores").text)))
    assert rows and {r["recipe"] for r in rows} == {"'=cmd()"}
    assert sorted(float(r["value"]) for r in rows) == sorted(s.value for s in record.scores)


# -- Host header -----------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.1:8000", "localhost:8000", "[::1]:8000",
                                  "dash.example.org", "a.corp.example"])
def test_known_hosts_are_served(tmp_path: Path, host: str) -> None:
    app = create_app(Settings(db_url=f"sqlite:///{tmp_path / 'h.db'}",
                              allowed_hosts=("dash.example.org", "*.corp.example")))
    with TestClient(app, base_url=LOCAL) as c:
        assert c.get("/healthz", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1.evil.example", "testserver",
                                  "localhost.", "[::2]", "", "a b"])
def test_a_stranger_host_is_400(client: TestClient, host: str) -> None:
    # What a DNS-rebound page sends: its own name, now resolving to this machine.
    response = client.get("/api/v1/runs", headers={"Host": host})
    assert response.status_code == 400


@pytest.mark.parametrize("host", ["dash.example.org:8443", "http://dash.example.org",
                                  "a*.example.org", "*example.org", " "])
def test_an_allowed_host_that_could_never_match_is_refused(host: str) -> None:
    with pytest.raises(HarnessError, match="allowed host"):
        create_app(Settings(db_url="sqlite://", allowed_hosts=(host,)))


# -- harness serve: no secret shown, none in argv ---------------------------------------------


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[Settings]:
    """``harness serve`` up to uvicorn, with the app left unbuilt: the settings it made."""
    made: list[Settings] = []
    monkeypatch.setattr(api.app, "create_app", lambda settings: made.append(settings) or settings)
    monkeypatch.setattr(uvicorn, "run", lambda app, host, port: None)
    monkeypatch.delenv("HARNESS_API_TOKEN", raising=False)
    monkeypatch.delenv("HARNESS_ALLOWED_HOSTS", raising=False)
    return made


def test_the_banner_hides_the_database_password(served: list[Settings],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    cli.serve(db="postgresql+psycopg://harness:hunter2@db.example:5432/harness")
    out = capsys.readouterr().out
    assert "hunter2" not in out and "harness:***@db.example:5432/harness" in out
    assert served[0].db_url.endswith(":hunter2@db.example:5432/harness")  # only hidden


def test_token_file_is_read_and_stripped(served: list[Settings], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "token"
    path.write_text(f"  {TOKEN}\n")
    path.chmod(0o600)
    cli.serve(db="sqlite://", token_file=path)
    assert served[0].token == TOKEN
    out, err = capsys.readouterr()
    assert TOKEN not in out + err and "open to the bearer token" in out and err == ""
    path.chmod(0o644)
    cli.serve(db="sqlite://", token_file=path)
    assert "readable by other users" in capsys.readouterr().err


@pytest.mark.parametrize(("content", "expect"), [(None, "no such file"), ("\n  \n", "is empty"),
                                                 (b"\xff\xfe\xfa", "cannot read it")])
def test_a_bad_token_file_is_one_line(served: list[Settings], tmp_path: Path,
                                      content: str | bytes | None, expect: str) -> None:
    path = tmp_path / "token"
    if isinstance(content, str):
        path.write_text(content)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    with pytest.raises(HarnessError, match=expect) as caught:
        cli.serve(db="sqlite://", token_file=path)
    assert "\n" not in str(caught.value) and served == []


def test_there_is_no_token_flag(served: list[Settings]) -> None:
    command = typer.Typer()
    command.command()(cli.serve)
    result = CliRunner().invoke(command, ["--token", "s3cret", "--db", "sqlite://"])
    assert result.exit_code == 2 and "No such option: --token" in result.output and not served
    help_text = CliRunner().invoke(command, ["--help"], env={"COLUMNS": "200"}).output
    assert "--token-file" in help_text and "--token " not in help_text


def test_serve_allows_the_bound_host_and_extra_names(served: list[Settings],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    cli.serve(host="10.1.2.3", db="sqlite://", allowed_host=["dash.example.org"])
    cli.serve(host="0.0.0.0", db="sqlite://")
    monkeypatch.setenv("HARNESS_ALLOWED_HOSTS", "a.example, b.example")
    command = typer.Typer()
    command.command()(cli.serve)
    result = CliRunner().invoke(command, ["--db", "sqlite://", "--host", "::1"])
    assert result.exit_code == 0, result.output
    assert [s.allowed_hosts for s in served] == [("dash.example.org", "10.1.2.3"), (),
                                                 ("a.example", "b.example", "::1")]
    assert "answers Host: 127.0.0.1, localhost, [::1], a.example, b.example" in result.output
