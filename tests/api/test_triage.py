"""``/api/v1/triage/...``: the proxy scores, their rank correlations with the measured scores
(each with its interval, or the reason there is none) and the recommended encoders, over a
store of six registered encoders (tests/api/conftest.py: ``triaged_app``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from harness.published.names import display_name

from .conftest import HALF_WIDTH, PROBE, TRIAGE_ENCODERS, TRIAGE_PROXIES

ROOT = Path(__file__).resolve().parents[2]
BASE = "/api/v1/triage"
FEW = ("4 encoders have both a proxy score and a measured one; a rank correlation needs at "
       "least 5")
SOURCE = "frozen / test-llm"


@pytest.fixture(scope="module")
def client(triaged_app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(triaged_app, base_url="http://127.0.0.1") as client:
        yield client


def by_key(correlations: list[dict]) -> dict[tuple[str, str], dict]:
    return {(c["proxy"], c["target"]): c for c in correlations}


def test_correlations_give_spearman_and_kendall_with_intervals(client: TestClient) -> None:
    body = client.get(f"{BASE}/correlations").json()
    assert body["min_encoders"] == 5 and body["smoke"] is False
    found = by_key(body["correlations"])
    # Each proxy against the probe benchmark, its category and the average of all.
    assert sorted(found) == sorted((p, t) for p in TRIAGE_PROXIES
                                   for t in ("probe accuracy", "Vision-Centric", "Average"))
    assert all(c["source"] == SOURCE and not c["smoke"] for c in found.values())
    exact = found[("linear-probe", "Average")]
    assert exact["level"] == "average" and exact["n"] == 6 and exact["reason"] is None
    assert (exact["spearman"], exact["kendall"]) == (1.0, 1.0)
    assert exact["spearman_ci"] == [1.0, 1.0] and exact["kendall_ci"] == [1.0, 1.0]
    reversed_ = found[("attentive-probe", "probe accuracy")]
    assert (reversed_["spearman"], reversed_["spearman_ci"]) == (-1.0, [-1.0, -1.0])
    points = {p["encoder_id"]: p for p in exact["points"]}
    assert sorted(points) == sorted(TRIAGE_ENCODERS)
    clip = points[TRIAGE_ENCODERS[0]]
    value = TRIAGE_PROXIES["linear-probe"][TRIAGE_ENCODERS[0]]
    assert clip == {"encoder_id": TRIAGE_ENCODERS[0], "proxy": value, "measured": 60.0,
                    "proxy_ci": [value - HALF_WIDTH, value + HALF_WIDTH]}


def test_four_encoders_give_no_correlation_and_say_why(client: TestClient) -> None:
    found = by_key(client.get(f"{BASE}/correlations").json()["correlations"])
    for target in ("probe accuracy", "Vision-Centric", "Average"):
        few = found[("knn", target)]
        assert few["n"] == 4 and few["reason"] == FEW
        assert few["spearman"] is None and few["spearman_ci"] is None
        assert few["kendall"] is None and few["kendall_ci"] is None
        assert len(few["points"]) == 4  # still drawn, just not correlated


def test_a_store_of_four_encoders_has_no_correlation_and_no_checked_proxy(
        make_triage_app) -> None:  # type: ignore[no-untyped-def]
    four = TRIAGE_ENCODERS[:4]
    app = make_triage_app({"linear-probe": {e: TRIAGE_PROXIES["linear-probe"][e] for e in four}},
                          {e: PROBE[e] for e in four})
    with TestClient(app, base_url="http://127.0.0.1") as client:
        found = client.get(f"{BASE}/correlations").json()["correlations"]
        assert len(found) == 3 and {c["reason"] for c in found} == {FEW}
        chosen = client.get(f"{BASE}/recommendation", params={"budget": 2}).json()
    assert chosen["basis"] is None and "unchecked" in chosen["explanation"]
    assert [e["encoder_id"] for e in chosen["encoders"]] == list(four[:2])


def test_twins_are_kept_apart_from_real_weights(client: TestClient) -> None:
    # The twins have proxy scores but no measured sweep: nothing to correlate with.
    assert client.get(f"{BASE}/correlations", params={"smoke": "true"}).json() == {
        "min_encoders": 5, "smoke": True, "correlations": []}
    twins = client.get(f"{BASE}/proxies", params={"smoke": True}).json()
    assert [p["proxy"] for p in twins["proxies"]] == ["linear-probe"]
    assert [s["value"] for s in twins["proxies"][0]["scores"]] == [12.0, 10.0]


def test_proxies_per_encoder_best_first_with_name_and_interval(client: TestClient) -> None:
    body = client.get(f"{BASE}/proxies").json()
    assert body["smoke"] is False
    proxies = {p["proxy"]: p for p in body["proxies"]}
    assert sorted(proxies) == sorted(TRIAGE_PROXIES)
    linear = proxies["linear-probe"]
    assert linear["metric"] == "accuracy"
    assert [s["encoder_id"] for s in linear["scores"]] == list(TRIAGE_ENCODERS)  # best first
    top = linear["scores"][0]
    assert top["name"] == display_name(TRIAGE_ENCODERS[0]) == "OpenAI CLIP ViT-L/14@336"
    assert (top["value"], top["ci"]) == (80.0, [80.0 - HALF_WIDTH, 80.0 + HALF_WIDTH])
    assert top["run_key"].startswith("triage-")
    assert len(proxies["knn"]["scores"]) == 4


def test_recommendation_is_the_top_k_by_the_best_predicting_proxy(client: TestClient) -> None:
    chosen = client.get(f"{BASE}/recommendation", params={"budget": 3}).json()
    assert chosen["proxy"] == "linear-probe"  # Spearman +1 beats the reversed attentive probe
    assert [e["encoder_id"] for e in chosen["encoders"]] == list(TRIAGE_ENCODERS[:3])
    assert chosen["encoders"][0]["ci"] == [80.0 - HALF_WIDTH, 80.0 + HALF_WIDTH]
    assert chosen["candidates"] == 6 and chosen["notes"] == []
    basis = chosen["basis"]
    assert (basis["proxy"], basis["target"], basis["spearman"]) == ("linear-probe", "Average", 1.0)
    assert basis["spearman_ci"] == [1.0, 1.0]
    assert "Spearman +1.00 [+1.00, +1.00]" in chosen["explanation"]
    everything = client.get(f"{BASE}/recommendation", params={"budget": 1000}).json()
    assert len(everything["encoders"]) == 6 and "only 6 encoders" in everything["notes"][0]


def test_nothing_to_rank_is_a_404_with_the_reason(make_triage_app) -> None:  # type: ignore[no-untyped-def]
    app = make_triage_app({}, PROBE)  # measured scores, no proxy scores
    with TestClient(app, base_url="http://127.0.0.1") as client:
        response = client.get(f"{BASE}/recommendation", params={"budget": 3})
        assert response.status_code == 404
        detail = response.json()["detail"]
        assert "harness triage --encoders" in detail and "\n" not in detail
        assert client.get(f"{BASE}/correlations").json()["correlations"] == []
        assert client.get(f"{BASE}/proxies").json() == {"smoke": False, "proxies": []}


@pytest.mark.parametrize("path, params", [
    ("recommendation", {"budget": 0}),
    ("recommendation", {"budget": 1001}),
    ("recommendation", {"budget": "three"}),
    ("recommendation", {}),
    ("recommendation", {"budget": 3, "smoke": "maybe"}),
    ("correlations", {"smoke": "maybe"}),
    ("proxies", {"smoke": "maybe"}),
])
def test_bad_values_are_422_not_500(client: TestClient, path: str, params: dict) -> None:
    response = client.get(f"{BASE}/{path}", params=params)
    assert response.status_code == 422, response.text


def test_openapi_types_every_triage_answer(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    answers = {}
    for path in ("correlations", "proxies", "recommendation"):
        operation = schema["paths"][f"{BASE}/{path}"]["get"]
        ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
        answers[path] = ok["$ref"].rsplit("/", 1)[-1]
    assert answers == {"correlations": "TriageCorrelations", "proxies": "TriageProxies",
                       "recommendation": "TriageRecommendation"}
    operation = schema["paths"][f"{BASE}/recommendation"]["get"]
    budget = next(p for p in operation["parameters"] if p["name"] == "budget")
    assert budget["required"] and (budget["schema"]["minimum"], budget["schema"]["maximum"]) == (
        1, 1000)
    assert "404" in operation["responses"]
    fields = schema["components"]["schemas"]["TriageCorrelation"]["properties"]
    assert {"spearman", "spearman_ci", "kendall", "kendall_ci", "reason", "points"} <= set(fields)
