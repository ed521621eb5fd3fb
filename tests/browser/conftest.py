"""Browser tests: the dashboard served by uvicorn on 127.0.0.1 from a test store, driven by
Playwright with Debian's Chromium (never a downloaded browser: `playwright install` cannot
work offline). Every request that would leave 127.0.0.1 is blocked and recorded."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import pytest
import uvicorn
from fastapi import FastAPI

from api.app import create_app
from api.settings import Settings
from harness.published import read_builtin
from harness.record import write_record
from harness.store import ingest_paths, ingest_records
from harness.store.published import import_published
from harness.store.synthetic import synthetic_records

CHROMIUM = os.environ.get("HARNESS_CHROMIUM", "/usr/bin/chromium")
# Flags measured to work headless in these containers (shared/reference/infra/README.md).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SCREENSHOTS_ENV = "HARNESS_SCREENSHOT_DIR"
HOST = "127.0.0.1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _fill(app, root: Path) -> str:  # type: ignore[no-untyped-def]
    """Synthetic runs (a quarter of the encoders smoke twins), Cambrian-1's published
    numbers, and one run folder with predictions; returns that run's key."""
    store = app.state.store
    ingest_records(store, synthetic_records(encoders=12, recipes=4, benchmarks=20, seeds=2,
                                            smoke_every=4))
    import_published(store, read_builtin("cambrian-1"), "cambrian-1")
    record = next(synthetic_records(encoders=1, recipes=1, benchmarks=3, rng_seed=7))
    run_dir = root / "runs" / "withpreds0001"
    write_record(run_dir, dataclasses.replace(record, run_key="withpreds0001"))
    (run_dir / "predictions").mkdir()
    (run_dir / "predictions" / "mme-p.jsonl").write_text("".join(
        json.dumps({"idx": i, "prompt": f"question {i}?", "output": "(A)", "correct": i % 2 == 0})
        + "\n" for i in range(30)))
    assert ingest_paths(store, [run_dir]).ok
    return "withpreds0001"


def _app(root: Path) -> FastAPI:
    """The API and dashboard on a SQLite store of their own under ``root``."""
    return create_app(Settings(db_url=f"sqlite:///{root / 'harness.db'}"))


@contextmanager
def _serving(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free port of 127.0.0.1 (in a thread) and yield its
    URL once it answers; stop it on leaving."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host=HOST, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://{HOST}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("browser-store")
    app = _app(root)
    key = _fill(app, root)
    with _serving(app) as url:
        yield {"url": url, "run_with_predictions": key}


SMOKE_ONLY = {"encoders": 3, "recipes": 2, "benchmarks": 4, "seeds": 1, "smoke_every": 1}
"""The smoke-only store: every encoder a smoke twin, each run frozen and unfrozen (the first
two synthetic recipes), so every setting and every comparison is one the pages hide."""


@pytest.fixture(scope="session")
def smoke_only_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A second server whose store holds smoke runs alone, as after
    ``harness sweep --encoders all --preset smoke``: a few synthetic records, not a sweep."""
    app = _app(tmp_path_factory.mktemp("smoke-only-store"))
    ingest_records(app.state.store, synthetic_records(**SMOKE_ONLY))
    with _serving(app) as url:
        yield {"url": url, "settings": SMOKE_ONLY["encoders"] * SMOKE_ONLY["recipes"],
               "encoders": SMOKE_ONLY["encoders"], "benchmarks": SMOKE_ONLY["benchmarks"]}


# Per module, not per session: while Playwright's sync API is open its event loop counts as
# running in the main thread, and the tests run after these (tests/api) call asyncio.run().
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install -y chromium (or set "
                    "$HARNESS_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Watched:
    """A page plus what it did wrong: console errors, page errors, off-machine requests."""

    def __init__(self, page) -> None:  # type: ignore[no-untyped-def]
        self.page = page
        self.errors: list[str] = []
        self.outside: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.route("**/*", self._route)

    def _route(self, route) -> None:  # type: ignore[no-untyped-def]
        host = urlparse(route.request.url).hostname
        if host == HOST:
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def open(self, url: str):  # type: ignore[no-untyped-def]
        """Load ``url`` and wait until the page's script has run: it sets a flag once the
        DOM is complete and every chart is drawn."""
        response = self.page.goto(url, wait_until="networkidle")
        self._wait_until_drawn()
        return response

    def follow(self, link: str) -> None:
        """Click the link ``link`` (a selector) and wait for the page it leads to as open()
        does."""
        with self.page.expect_navigation(wait_until="networkidle"):
            self.page.click(link)
        self._wait_until_drawn()

    def _wait_until_drawn(self) -> None:
        self.page.wait_for_selector("body[data-charts-ready=true]", state="attached")

    def check(self) -> None:
        assert self.outside == [], f"requests left {HOST}: {self.outside}"
        assert self.errors == [], f"console errors: {self.errors}"


@pytest.fixture
def watched(browser) -> Iterator[Watched]:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield Watched(page)
    context.close()
