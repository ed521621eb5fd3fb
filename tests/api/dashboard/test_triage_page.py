"""The triage page (``/triage``): every correlation with its interval or the reason there is
none, the predicted-vs-measured scatter chosen from the table, the proxy scores per encoder,
and what to run when there are none."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from urllib.parse import urlencode

import plotly.graph_objects as go
import pytest
from fastapi.testclient import TestClient

from api.dashboard.pages.triage import render_triage
from harness.published.names import display_name
from harness.triage.correlate import Correlation

from ..conftest import PROBE, TRIAGE_ENCODERS, TRIAGE_PROXIES

SOURCE = "frozen / test-llm"
FEW = ("4 encoders have both a proxy score and a measured one; a rank correlation needs at "
       "least 5")
NAMES = [display_name(e) for e in TRIAGE_ENCODERS]


@pytest.fixture(scope="module")
def client(triaged_app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(triaged_app, base_url="http://127.0.0.1") as client:
        yield client


def figure(page: str, div: str = "triage-scatter") -> dict:
    match = re.search(rf'<script type="application/json" data-figure="{div}">(.*?)</script>',
                      page, re.S)
    assert match, f"no figure {div}"
    drawn = json.loads(match.group(1))
    go.Figure(drawn)  # plotly validates every property
    return drawn


def table_rows(page: str, table: str) -> list[list[str]]:
    body = page[page.index(f'id="{table}"'):]
    body = body[body.index("<tbody>"):body.index("</tbody>")]
    return [[re.sub(r"<[^>]+>", " ", cell.split(">", 1)[1]).split()
             for cell in re.findall(r"<td[^>]*>.*?</td>", row, re.S)]
            for row in re.findall(r"<tr.*?</tr>", body, re.S)]


def text(cells: list[list[str]]) -> list[str]:
    return [" ".join(c) for c in cells]


def page_for(client: TestClient, **params: str) -> str:
    response = client.get("/triage?" + urlencode(params))
    assert response.status_code == 200, response.text
    return response.text


def test_every_correlation_with_its_interval_or_the_reason(client: TestClient) -> None:
    page = page_for(client)
    assert '<a href="/triage" class="active">Triage</a>' in page  # in the shared navigation
    rows = {(r[0], r[2]): r for r in map(text, table_rows(page, "correlations"))}
    assert len(rows) == 9
    exact = rows[("linear-probe", "Average")]
    assert exact[1:5] == [SOURCE, "Average", "average", "6"]
    assert exact[5:7] == ["+1.00 [+1.00, +1.00]", "+1.00 [+1.00, +1.00]"]
    assert rows[("attentive-probe", "probe accuracy")][5] == "-1.00 [-1.00, -1.00]"
    few = rows[("knn", "Vision-Centric")]
    assert few[4:7] == ["4", FEW, "—"]
    # Each row but the one drawn links to its scatter.
    assert page.count('>show</a>') == 8 and page.count(">shown<") == 1


def test_the_default_scatter_is_the_proxy_budget_ranks_by(client: TestClient) -> None:
    # The best predictor of a measured average, not the first row (attentive-probe, -1.00).
    page = page_for(client)
    drawn = figure(page)
    title = drawn["layout"]["title"]["text"]
    assert title.startswith(f"linear-probe vs Average · {SOURCE}")
    assert "Spearman +1.00 [+1.00, +1.00] · Kendall +1.00 [+1.00, +1.00] · 6 encoders" in title


def test_the_scatter_of_a_chosen_row_names_every_encoder(client: TestClient) -> None:
    page = page_for(client, proxy="linear-probe", source=SOURCE, target="Average")
    (trace,) = figure(page)["data"]
    points = dict(zip(trace["text"], zip(trace["x"], trace["y"], strict=True), strict=True))
    assert sorted(points) == sorted(NAMES)
    for encoder, name in zip(TRIAGE_ENCODERS, NAMES, strict=True):
        assert points[name] == (TRIAGE_PROXIES["linear-probe"][encoder], PROBE[encoder])
    assert trace["error_x"]["array"] == [2.5] * 6 == trace["error_x"]["arrayminus"]
    title = figure(page)["layout"]["title"]["text"]
    assert "Spearman +1.00 [+1.00, +1.00] · Kendall +1.00 [+1.00, +1.00]" in title
    assert "Predicted vs measured: linear-probe · frozen / test-llm · Average" in page
    assert "proxy: linear-probe" in figure(page)["layout"]["xaxis"]["title"]["text"]


def test_too_few_encoders_draws_the_points_and_says_why(client: TestClient) -> None:
    page = page_for(client, proxy="knn", source=SOURCE, target="Average")
    drawn = figure(page)
    assert sorted(drawn["data"][0]["text"]) == sorted(NAMES[:4])
    assert f"no rank correlation: {FEW}" in drawn["layout"]["title"]["text"]
    assert f"No rank correlation: {FEW}." in page


def test_a_choice_not_in_the_table_falls_back_and_says_so(client: TestClient) -> None:
    page = page_for(client, proxy="pairs", source=SOURCE, target="Average")
    assert "No correlation of pairs · frozen / test-llm · Average" in page
    assert figure(page)["layout"]["title"]["text"].startswith("linear-probe vs Average")


def test_the_proxy_table_per_encoder_with_intervals(client: TestClient) -> None:
    page = page_for(client)
    header = page[page.index('id="proxy-scores"'):]
    header = header[:header.index("</thead>")]
    assert re.findall(r'<th class="sortable num">([^<]+)</th>', header) == [
        "attentive-probe", "knn", "linear-probe"]
    rows = {r[0]: r[1:] for r in map(text, table_rows(page, "proxy-scores"))}
    clip = f"{NAMES[0]} {TRIAGE_ENCODERS[0]}"
    assert rows[clip] == ["30.0 [27.5, 32.5]", "50.0 [47.5, 52.5]", "80.0 [77.5, 82.5]"]
    assert rows[f"{NAMES[-1]} {TRIAGE_ENCODERS[-1]}"][1] == ""  # SAM: no kNN score


def test_twins_are_a_page_of_their_own(client: TestClient) -> None:
    page = page_for(client, smoke="true")
    assert "Random-weight smoke results." in page and "not real scores" in page
    assert 'id="no-targets"' in page and "--preset smoke" in page
    assert [r[0] for r in map(text, table_rows(page, "proxy-scores"))] == [
        f"{NAMES[0]} {TRIAGE_ENCODERS[0]}", f"{NAMES[1]} {TRIAGE_ENCODERS[1]}"]
    assert "data-figure" not in page


def test_no_proxy_scores_says_what_to_run(make_triage_app) -> None:  # type: ignore[no-untyped-def]
    app = make_triage_app({}, PROBE)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        page = page_for(client)
    assert 'id="no-proxies"' in page and "<code>harness triage --encoders all</code>" in page
    assert "data-figure" not in page and 'id="correlations"' not in page


def test_only_twins_scored_points_to_them(make_triage_app) -> None:  # type: ignore[no-untyped-def]
    app = make_triage_app({}, {}, twins={"knn": {TRIAGE_ENCODERS[0]: 10.0}})
    with TestClient(app, base_url="http://127.0.0.1") as client:
        page = page_for(client)
    assert "1 proxy score exists among hidden smoke runs" in page
    assert 'href="/triage?smoke=true"' in page


@pytest.mark.parametrize("params", [{"smoke": "maybe"}, {"proxy": "x" * 201},
                                    {"target": "a\x00b"}])
def test_bad_query_values_are_422(client: TestClient, params: dict) -> None:
    assert client.get("/triage", params=params).status_code == 422


def test_names_from_the_store_are_escaped() -> None:
    evil = "<script>alert(1)</script>"
    found = [Correlation(evil, evil, evil, "average", False, 1, reason=evil, points=[
        {"encoder_id": evil, "proxy": 1.0, "proxy_ci": None, "measured": 2.0}])]
    proxies = {(evil, False): {evil: {"value": 1.0, "ci": None, "metric": evil,
                                      "run_key": "k"}}}
    page = render_triage(found, proxies)
    assert evil not in page and "&lt;script&gt;" in page
    drawn = figure(page)
    assert evil not in drawn["layout"]["title"]["text"]
    assert evil not in drawn["data"][0]["hovertext"][0]
    assert drawn["data"][0]["text"] == ["&lt;script&gt;alert(1)&lt;/script&gt;"]
