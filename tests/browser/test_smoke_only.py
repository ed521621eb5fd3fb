"""A store of smoke runs alone (as after `harness sweep --encoders all --preset smoke`) in
Chromium: each page that hides smoke runs says how many it hides instead of claiming the
store is empty or a recipe pair missing, and its switch shows them."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from api.dashboard.render import SMOKE_PARAM

pytestmark = pytest.mark.browser

NOTICE = ".hidden-smoke"
NO_RESULTS = "No results yet"
BAR_LABELS = "el => [...new Set(el.data.filter(t => t.y.length).flatMap(t => t.x))]"


def asked_for_smoke(url: str) -> dict[str, list[str]]:
    """The query of ``url``, checked to include smoke runs."""
    query = parse_qs(urlparse(url).query)
    assert query[SMOKE_PARAM] == ["true"]
    return query


def test_benchmarks_say_how_many_settings_hide_and_show_them(smoke_only_server, watched,
                                                             screenshots: Path) -> None:
    page, store = watched.page, smoke_only_server
    watched.open(store["url"] + "/benchmarks")
    notice = page.text_content(NOTICE)
    assert f"{store['settings']} settings exist among hidden smoke runs." in notice
    assert NO_RESULTS not in page.text_content("main")
    assert page.locator("#benchmark-heatmap").count() == 0
    page.screenshot(path=str(screenshots / "benchmarks-smoke-hidden.png"), full_page=True)

    watched.follow("#show-hidden-smoke")
    asked_for_smoke(page.url)
    assert page.is_checked("#include-smoke") and page.locator(NOTICE).count() == 0
    heat = page.eval_on_selector("#benchmark-heatmap", "el => el.data[0]")
    assert len(heat["y"]) == store["settings"] and len(heat["x"]) == store["benchmarks"]
    watched.check()


def test_recipes_point_at_the_hidden_pairs_and_show_them(smoke_only_server, watched,
                                                         screenshots: Path) -> None:
    page, store = watched.page, smoke_only_server
    watched.open(store["url"] + "/recipes")
    text = page.text_content("main")
    # Each encoder was run frozen and unfrozen: one comparison each, all of them hidden.
    assert (f"{store['encoders']} comparisons (unfrozen − frozen) exist among hidden smoke "
            "runs.") in text
    assert "No encoder has both a frozen and an unfrozen run" not in text
    assert page.locator("#unfreeze").count() == 0
    page.screenshot(path=str(screenshots / "recipes-smoke-hidden.png"), full_page=True)

    watched.follow("#show-hidden-smoke-unfreeze")
    asked_for_smoke(page.url)
    bars = page.eval_on_selector("#unfreeze", BAR_LABELS)
    assert len(bars) == store["encoders"]
    watched.check()


def test_families_switch_keeps_the_setting_asked_for(smoke_only_server, watched,
                                                     screenshots: Path) -> None:
    page, store = watched.page, smoke_only_server
    unfrozen = "unfrozen|synthetic-llm|mlp2x_gelu|synthetic"
    watched.open(f"{store['url']}/families?setting={unfrozen}")
    notice = page.text_content(NOTICE)
    assert f"{store['settings']} settings exist among hidden smoke runs." in notice
    assert NO_RESULTS not in page.text_content("main")
    assert page.locator("#families").count() == 0
    page.screenshot(path=str(screenshots / "families-smoke-hidden.png"), full_page=True)

    watched.follow("#show-hidden-smoke")
    assert asked_for_smoke(page.url)["setting"] == [unfrozen]
    assert page.eval_on_selector("#setting", "el => el.value") == unfrozen
    bars = page.eval_on_selector("#families", BAR_LABELS)
    assert len(bars) == store["encoders"]
    watched.check()


def test_leaderboard_says_every_setting_waits_for_the_smoke_switch(smoke_only_server,
                                                                   watched) -> None:
    page, store = watched.page, smoke_only_server
    watched.open(store["url"] + "/")
    banner = page.text_content(".smoke-banner")
    assert f"All {store['settings']} settings come from" in banner
    assert "hidden unless the show smoke switch is ticked" in " ".join(banner.split())
    rows = "#leaderboard tbody tr:not(.hidden)"
    assert page.locator(rows).count() == 0
    page.click(".smoke-banner label.switch-name")  # the banner's name for the switch ticks it
    assert page.is_checked("#show-smoke")
    assert page.locator(rows).count() == store["settings"]
    watched.check()
