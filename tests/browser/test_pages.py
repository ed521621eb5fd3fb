"""Every dashboard page in Chromium: loads with no console error and no request leaving
127.0.0.1, draws the expected charts, and its filters change what is shown."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

PAGES = ["/", "/families", "/recipes", "/benchmarks", "/triage", "/runs", "/docs"]


def trace_names(page, selector: str) -> list[str]:  # type: ignore[no-untyped-def]
    return page.eval_on_selector(selector, "el => el.data.map(t => t.name || '')")


@pytest.mark.parametrize("path", PAGES)
def test_page_loads_cleanly(live_server, watched, screenshots: Path, path: str) -> None:
    page = watched.page
    if path == "/docs":
        response = page.goto(live_server["url"] + path, wait_until="networkidle")
        page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
        assert page.locator(".swagger-ui .opblock").count() >= 14
    else:
        response = watched.open(live_server["url"] + path)
    assert response is not None and response.status == 200
    name = path.strip("/") or "leaderboard"
    page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)
    watched.check()


def test_charts_show_the_expected_traces(live_server, watched) -> None:
    page = watched.page
    watched.open(live_server["url"] + "/")
    # One trace per encoder group; the smoke twins (group "other" here) are left out of the
    # figure while real results exist.
    assert trace_names(page, "#group-comparison") == ["clip", "ssl", "convnext"]
    watched.open(live_server["url"] + "/recipes")
    # One panel per category, one trace per family in each.
    assert sorted(trace_names(page, "#unfreeze")) == sorted(["clip", "ssl", "convnext"] * 4)
    watched.open(live_server["url"] + "/benchmarks")
    heat = page.eval_on_selector("#benchmark-heatmap", "el => el.data[0].x.length")
    assert heat == 20
    gaps = page.eval_on_selector("#vision-reliance", "el => el.data[0].x")
    assert sorted(gaps) == ["cv-bench", "mmvp", "probe", "realworldqa"]
    watched.check()


def test_leaderboard_filters_sort_and_smoke_switch(live_server, watched,
                                                   screenshots: Path) -> None:
    page = watched.page
    watched.open(live_server["url"] + "/")
    visible = "#leaderboard tbody tr:not(.hidden)"

    def shown() -> int:
        return page.locator(visible).count()

    measured_real = 9 * 4  # 12 encoders, every 4th a smoke twin; 4 recipes
    published = 19 + 5 + 6  # Figure 4 encoders, Table 5 models, Table 2 ensembles
    assert shown() == measured_real + published
    assert page.locator("#leaderboard tbody tr.smoke:not(.hidden)").count() == 0
    page.check("#show-smoke")
    assert shown() == measured_real + 12 + published
    page.uncheck("#show-published")
    assert shown() == measured_real + 12
    page.select_option("#filter-group", "ssl")
    groups = page.eval_on_selector_all(visible, "rows => rows.map(r => r.dataset.group)")
    assert set(groups) == {"ssl"} and len(groups) == 3 * 4
    page.select_option("#filter-recipe", "unfrozen")
    assert shown() == 3
    assert page.text_content("#shown-rows") == "3"
    page.select_option("#filter-group", "")
    page.select_option("#filter-recipe", "")

    # Sorting by a column: click once for best first.
    page.click("#leaderboard th:has-text('Vision-Centric (avg)')")
    column = page.eval_on_selector(
        "#leaderboard", """t => {
          const i = [...t.tHead.rows[0].cells].findIndex(c => c.textContent.includes(
            'Vision-Centric (avg)'));
          return [...t.tBodies[0].rows].filter(r => !r.classList.contains('hidden'))
            .map(r => r.cells[i].textContent.trim()).filter(v => v !== '').map(Number);
        }""")
    assert len(column) > 10 and column == sorted(column, reverse=True)

    # The category filter keeps that category's columns only.
    page.select_option("#filter-category", "OCR & Chart")
    headers = page.eval_on_selector_all("#leaderboard thead th:not(.hidden)",
                                        "hs => hs.map(h => h.textContent.trim())")
    assert "OCR & Chart (avg)" in headers and "chartqa" in headers
    assert "General (avg)" not in headers and "mmvp" not in headers
    page.screenshot(path=str(screenshots / "leaderboard-filtered.png"), full_page=True)
    watched.check()


def test_run_detail_shows_provenance_and_predictions(live_server, watched,
                                                     screenshots: Path) -> None:
    page = watched.page
    key = live_server["run_with_predictions"]
    watched.open(f"{live_server['url']}/runs/{key}")
    assert page.locator("dl.provenance").is_visible()
    assert "question 0?" in page.text_content("main")
    page.screenshot(path=str(screenshots / "run-detail.png"), full_page=True)
    watched.open(live_server["url"] + "/runs")
    page.click(f"a:has-text('{key}')")
    page.wait_for_url(f"**/runs/{key}")
    watched.check()
