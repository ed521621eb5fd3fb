"""``harness serve``: where the database URL comes from, and that it starts uvicorn on the app."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import uvicorn

from api import cli
from harness.store.store import DEFAULT_DB_URL


def test_db_url_flag_then_env_then_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HARNESS_DB_URL", raising=False)
    assert cli.resolve_db_url(None) == DEFAULT_DB_URL == "sqlite:///harness-runs/harness.db"
    monkeypatch.setenv("HARNESS_DB_URL", "sqlite:///env.db")
    assert cli.resolve_db_url(None) == "sqlite:///env.db"
    assert cli.resolve_db_url("sqlite:///flag.db") == "sqlite:///flag.db"


def test_the_serve_command_loads_the_web_stack_only_when_it_runs() -> None:
    # Every harness command mounts serve's options; none should pay for the app's routes, the
    # dashboard and plotly (about 3 s on 2 cores).
    code = "import sys, api.cli; print('api.app' in sys.modules, 'plotly' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.split() == ["False", "False"]


def test_serve_prints_the_url_and_runs_uvicorn(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, host, port: calls.append((app, host, port)))
    cli.serve(host="0.0.0.0", port=8123, db="sqlite://")
    [(app, host, port)] = calls
    assert (host, port) == ("0.0.0.0", 8123)
    assert app.state.settings.db_url == "sqlite://"
    assert "http://0.0.0.0:8123/" in capsys.readouterr().out


def test_serve_token_from_file_or_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, host, port: calls.append(app))
    monkeypatch.delenv("HARNESS_API_TOKEN", raising=False)
    cli.serve(db="sqlite://")
    monkeypatch.setenv("HARNESS_API_TOKEN", "from-env")
    cli.serve(db="sqlite://")
    (tmp_path / "token").write_text("from-file\n")
    cli.serve(db="sqlite://", token_file=tmp_path / "token")
    assert [app.state.settings.token for app in calls] == [None, "from-env", "from-file"]
