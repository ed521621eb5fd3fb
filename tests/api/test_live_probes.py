"""Issue 16's probes replayed against a real ``harness serve`` (uvicorn) on 127.0.0.1, started
the way a user starts it: a token file, a small body limit. Every loop is bounded, every socket
has a timeout, and the server is always stopped."""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.store.synthetic import synthetic_records

TOKEN = "live-probe-token-0123456789"
LIMIT = 4096
HOST = "127.0.0.1"
TIMEOUT = 10.0
START_TRIES = 600  # x 0.1 s


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("live")
    (root / "token").write_text(TOKEN + "\n")
    (root / "token").chmod(0o600)
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("HARNESS_API_TOKEN", "HARNESS_ALLOWED_HOSTS", "HARNESS_MAX_BODY_BYTES")}
    log = (root / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from harness.cli.app import main; main()", "serve",
         "--host", HOST, "--port", str(port), "--db", f"sqlite:///{root / 'h.db'}",
         "--token-file", str(root / "token"), "--max-body-bytes", str(LIMIT)],
        stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        url = f"http://{HOST}:{port}"
        for _ in range(START_TRIES):
            if proc.poll() is not None:
                pytest.fail(f"harness serve exited {proc.returncode}: "
                            f"{(root / 'serve.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        else:
            pytest.fail("harness serve did not answer /healthz")
        yield {"url": url, "port": port, "pid": proc.pid, "log": root / "serve.log"}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()


def raw_request(port: int, head: str, chunks: list[bytes]) -> str:
    """Send ``head`` and as many of ``chunks`` as the server takes, then read its status line:
    a server that answers before the body ends is heard, not waited on."""
    with socket.create_connection((HOST, port), timeout=TIMEOUT) as sock:
        sock.sendall(head.encode())
        try:
            for chunk in chunks:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # it answered and closed before taking the rest: what is probed
        answer = b""
        for _ in range(64):  # enough reads for a status line and headers
            part = sock.recv(4096)
            answer += part
            if not part or b"\r\n\r\n" in answer:
                break
    return answer.split(b"\r\n", 1)[0].decode()


def post_head(port: int, extra: str) -> str:
    return (f"POST /api/v1/results HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
            f"Content-Type: application/json\r\n{extra}\r\n")


def chunked(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def test_a_lying_content_length_is_413_without_the_body(server: dict[str, Any]) -> None:
    head = post_head(server["port"], f"Authorization: Bearer {TOKEN}\r\n"
                                     f"Content-Length: {100 * 2**20}\r\n")
    assert raw_request(server["port"], head, [b"[" * 1024]).startswith("HTTP/1.1 413")


def test_no_token_is_401_while_the_body_is_still_coming(server: dict[str, Any]) -> None:
    head = post_head(server["port"], "Transfer-Encoding: chunked\r\n")
    # One chunk of a body that would be 100 MB: the answer comes without the rest.
    assert raw_request(server["port"], head, [chunked(b"[" * 1024)]).startswith("HTTP/1.1 401")


def test_a_chunked_body_over_the_limit_is_413(server: dict[str, Any]) -> None:
    head = post_head(server["port"], f"Authorization: Bearer {TOKEN}\r\n"
                                     "Transfer-Encoding: chunked\r\n")
    chunks = [chunked(b" " * 1024) for _ in range(3 * LIMIT // 1024)] + [b"0\r\n\r\n"]
    assert raw_request(server["port"], head, chunks).startswith("HTTP/1.1 413")


def test_probes_over_http(server: dict[str, Any]) -> None:
    record = json.loads(next(synthetic_records(encoders=1, recipes=1, benchmarks=3)).to_json())
    with httpx.Client(base_url=server["url"], timeout=TIMEOUT) as client:
        assert client.get("/api/v1/runs", headers={"Host": "evil.example"}).status_code == 400
        assert client.get("/api/v1/runs", headers={"Host": "localhost"}).status_code == 200

        def post(changes: dict[str, Any]) -> httpx.Response:
            return client.post("/api/v1/results", headers={**auth(), "Content-Type":
                                                           "application/json"},
                               content=json.dumps({**record, **changes}))

        assert post({"run_key": "ab\ud800"}).status_code == 422
        assert post({"run_key": "a/b"}).status_code == 422
        assert post({"recipe": "=cmd()"}).status_code == 201
        export = client.get("/api/v1/export/scores").text
        rows = list(csv.DictReader(io.StringIO(export)))
        assert rows and {r["recipe"] for r in rows} == {"'=cmd()"}
        assert client.get(f"/api/v1/runs/{record['run_key']}").status_code == 200


def test_no_secret_in_argv_or_output(server: dict[str, Any]) -> None:
    cmdline = Path(f"/proc/{server['pid']}/cmdline")
    if cmdline.exists():
        assert TOKEN not in cmdline.read_bytes().decode(errors="replace")
    banner = server["log"].read_text()
    assert "write routes: open to the bearer token" in banner and TOKEN not in banner
