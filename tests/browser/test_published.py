"""Published numbers in the browser: a distinct (hatched) marker and legend entry on the
families chart, and a switch that hides and shows them."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

TRACES = """el => el.data.map(t => ({kind: t.meta.kind, name: t.name, visible: t.visible,
    pattern: t.marker.pattern ? t.marker.pattern.shape : '', n: t.x.length}))"""


def test_families_published_marker_and_hide_switch(live_server, watched,
                                                   screenshots: Path) -> None:
    page = watched.page
    watched.open(live_server["url"] + "/families")
    traces = page.eval_on_selector("#families", TRACES)
    published = [t for t in traces if t["kind"] == "published"]
    measured = [t for t in traces if t["kind"] == "measured"]
    assert published and measured
    assert {t["pattern"] for t in published} == {"/"}
    assert {t["pattern"] for t in measured} == {""}
    # Figure 4's nineteen encoders in every category panel.
    assert sum(t["n"] for t in published) == 19 * 4
    legend = page.eval_on_selector_all(".legend .traces .legendtext",
                                       "ts => ts.map(t => t.textContent)")
    assert "clip · published" in legend and "ssl · published" in legend and "clip" in legend
    page.screenshot(path=str(screenshots / "families-with-published.png"), full_page=True)

    page.uncheck("#show-published-traces")
    hidden = page.eval_on_selector("#families", TRACES)
    assert {t["visible"] for t in hidden if t["kind"] == "published"} == {False}
    assert {t["visible"] for t in hidden if t["kind"] == "measured"} <= {True, None}
    legend = page.eval_on_selector_all(".legend .traces .legendtext",
                                       "ts => ts.map(t => t.textContent)")
    assert not any("published" in name for name in legend)
    page.screenshot(path=str(screenshots / "families-published-hidden.png"), full_page=True)

    page.check("#show-published-traces")
    shown = page.eval_on_selector("#families", TRACES)
    assert {t["visible"] for t in shown if t["kind"] == "published"} == {True}
    watched.check()


def test_leaderboard_marks_published_rows(live_server, watched) -> None:
    page = watched.page
    watched.open(live_server["url"] + "/")
    rows = page.locator("#leaderboard tbody tr[data-kind=published]")
    assert rows.count() == 19 + 5 + 6
    assert rows.first.locator(".badge.published").is_visible()
    watched.check()
