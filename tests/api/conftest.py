"""API fixtures: an app over a temporary SQLite store filled with synthetic runs (and, where a
test asks, Cambrian-1's published numbers)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from harness.published import read_builtin
from harness.record import EncoderInfo, ResultRecord, Score
from harness.store import ingest_records
from harness.store.published import import_published
from harness.store.synthetic import synthetic_records

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def filled_app(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Shared by a module's tests, which only read (writers make their own app)."""
    path = tmp_path_factory.mktemp("api") / "harness.db"
    app = create_app(Settings(db_url=f"sqlite:///{path}", token=TOKEN))
    ingest_records(app.state.store, synthetic_records(encoders=8, recipes=4, benchmarks=20,
                                                      seeds=2, smoke_every=4))
    import_published(app.state.store, read_builtin("cambrian-1"), "cambrian-1")
    return app


@pytest.fixture
def api(filled_app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(filled_app, base_url="http://127.0.0.1") as client:
        yield client


# -- triage: proxy scores of registered encoders beside measured ones -------------------------

TRIAGE_ENCODERS = (  # registered ids with the paper's names (harness.published.names)
    "clip-vit-l14-336.openai", "siglip-vit-so400m14-384.webli", "dinov2-vit-l14-518.lvd142m",
    "openclip-convnext-xxl-1024.laion2b", "mae-vit-l16-224.in1k", "sam-vit-h16-1024.sa1b",
)
PROBE = dict(zip(TRIAGE_ENCODERS, (60.0, 55.0, 50.0, 45.0, 40.0, 35.0), strict=True))
"""The measured ``probe`` accuracy (recipe ``frozen``), best first."""
TRIAGE_PROXIES = {
    # the measured order exactly: Spearman and Kendall 1.0
    "linear-probe": dict(zip(TRIAGE_ENCODERS, (80.0, 70.0, 66.0, 52.0, 45.0, 31.0), strict=True)),
    # the measured order reversed: -1.0
    "attentive-probe": dict(zip(TRIAGE_ENCODERS, (30.0, 41.0, 52.0, 63.0, 74.0, 85.0),
                                strict=True)),
    # four encoders only: no correlation, and why
    "knn": dict(zip(TRIAGE_ENCODERS[:4], (50.0, 60.0, 40.0, 55.0), strict=True)),
}
TRIAGE_TWINS = {"linear-probe": {TRIAGE_ENCODERS[0]: 12.0, TRIAGE_ENCODERS[1]: 10.0}}
"""Proxy scores of tiny random-weight twins (smoke), with nothing measured to check them."""
HALF_WIDTH = 2.5
"""Every proxy score's 95% interval is its value +- this."""


def _encoder(encoder_id: str, smoke: bool) -> EncoderInfo:
    return EncoderInfo(id=encoder_id, group="clip", supervision="language",
                       architecture="vit", resolution=336, tiny=smoke, params=1,
                       loader="synthetic", source="synthetic")


def triage_records(proxies: dict[str, dict[str, float]], measured: dict[str, float],
                   smoke: bool = False) -> list[ResultRecord]:
    """One triage record per encoder and proxy (kind ``proxy``, benchmark ``proxy:<name>``,
    overall and a task slice, each with its interval), and one ``frozen`` sweep record per
    measured encoder (benchmark ``probe``, Vision-Centric)."""
    records = []
    tag = "t" if smoke else "r"
    for p, (proxy, values) in enumerate(sorted(proxies.items())):
        for e, (encoder_id, value) in enumerate(sorted(values.items())):
            scores = tuple(
                Score(f"proxy:{proxy}", "accuracy", subset, value + shift, 192, kind="proxy",
                      ci_low=value + shift - HALF_WIDTH, ci_high=value + shift + HALF_WIDTH)
                for subset, shift in (("overall", 0.0), ("task:Count", 1.0)))
            records.append(ResultRecord(
                run_key=f"triage-{tag}{p}{e}", status="done", smoke=smoke,
                encoder=_encoder(encoder_id, smoke), recipe="triage", llm="", connector="",
                seed=0, preset="triage", config={"proxy": proxy, "encoder": encoder_id},
                scores=scores, finished_at=f"2025-01-02T00:{p:02d}:{e:02d}+00:00"))
    for e, (encoder_id, value) in enumerate(sorted(measured.items())):
        records.append(ResultRecord(
            run_key=f"sweep-{tag}{e}", status="done", smoke=smoke,
            encoder=_encoder(encoder_id, smoke), recipe="frozen", llm="test-llm",
            connector="mlp2x_gelu", seed=0, preset="test", config={"encoder": encoder_id},
            scores=(Score("probe", "accuracy", "overall", value, 300,
                          category="Vision-Centric"),),
            finished_at=f"2025-01-01T00:00:{e:02d}+00:00"))
    return records


def triage_app(path, proxies: dict[str, dict[str, float]],  # type: ignore[no-untyped-def]
               measured: dict[str, float], twins: dict[str, dict[str, float]] | None = None):
    app = create_app(Settings(db_url=f"sqlite:///{path}"))
    records = triage_records(proxies, measured)
    if twins:
        records += triage_records(twins, {}, smoke=True)
    ingest_records(app.state.store, records)
    return app


@pytest.fixture(scope="module")
def triaged_app(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Six registered encoders with proxy scores and a measured probe accuracy; tiny twins of
    two with a proxy score and nothing measured."""
    return triage_app(tmp_path_factory.mktemp("triage") / "h.db", TRIAGE_PROXIES, PROBE,
                      TRIAGE_TWINS)


@pytest.fixture(scope="module")
def make_triage_app(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A fresh app over its own store: ``make_triage_app(proxies, measured)``."""
    def make(proxies, measured, twins=None):  # type: ignore[no-untyped-def]
        return triage_app(tmp_path_factory.mktemp("triage") / "h.db", proxies, measured, twins)
    return make
