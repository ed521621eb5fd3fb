"""Triage (``/triage``): how well each frozen-feature proxy (``harness triage``) has predicted
the measured scores: every rank correlation with its interval (or why there is none), one of
them drawn as predicted against measured, and each encoder's proxy scores."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from api.dashboard.cache import PageCacheDep
from api.dashboard.figures import triage_scatter
from api.dashboard.render import SMOKE_PARAM, Row, render_page
from api.deps import Name, StoreDep
from api.views import proxy_scores, triage
from harness.published.names import display_name
from harness.triage.correlate import MIN_ENCODERS, PUBLISHED_SOURCE, Correlation, ProxyValues
from harness.triage.recommend import best_predictor

PATH = "/triage"
SCATTER = "triage-scatter"
TRIAGE_COMMAND = "harness triage --encoders all"
"""What fills this page: every proxy on every encoder (``--encoders a,b,...`` for some)."""
TWINS_COMMAND = "harness triage --encoders all --tiny"


def rank_text(value: float | None, interval: Sequence[float] | None) -> str:
    """A rank correlation and its 95% interval, never the value alone."""
    if value is None:
        return ""
    bounds = (f"[{interval[0]:+.2f}, {interval[1]:+.2f}]" if interval
              else "[no interval: most resamples had no spread]")
    return f"{value:+.2f} {bounds}"


def value_text(value: float, interval: Sequence[float] | None) -> str:
    return f"{value:.1f}" + (f" [{interval[0]:.1f}, {interval[1]:.1f}]" if interval else "")


def key(c: Correlation) -> tuple[str, str, str]:
    return c.proxy, c.source, c.target


def page_url(smoke: bool, chosen: tuple[str, str, str] | None = None) -> str:
    params: dict[str, str] = {}
    if chosen:
        params.update(zip(("proxy", "source", "target"), chosen, strict=True))
    if smoke:
        params[SMOKE_PARAM] = "true"
    return PATH + (f"?{urlencode(params)}" if params else "")


def choose(shown: Sequence[Correlation], proxy: str | None, source: str | None,
           target: str | None) -> tuple[Correlation | None, bool]:
    """The correlation drawn: the one asked for; else the one ``--budget`` would rank by (the
    best Spearman with a measured average), else the first with a value, else the first.
    Also whether one was asked for and is not there."""
    asked = (proxy, source, target)
    if any(asked):
        for c in shown:
            if key(c) == asked:
                return c, False
    default = (best_predictor(list(shown), smoke=bool(shown) and shown[0].smoke)
               or next((c for c in shown if c.spearman is not None), shown[0] if shown else None))
    return default, any(asked)


def correlation_row(c: Correlation, smoke: bool, selected: bool) -> Row:
    return {"proxy": c.proxy, "source": c.source, "target": c.target, "level": c.level,
            "n": c.n, "spearman": c.spearman, "kendall": c.kendall,
            "spearman_text": rank_text(c.spearman, c.spearman_ci),
            "kendall_text": rank_text(c.kendall, c.kendall_ci), "reason": c.reason,
            "published": c.source == PUBLISHED_SOURCE, "selected": selected,
            "url": page_url(smoke, key(c)) + "#scatter"}


def scatter_title(c: Correlation) -> str:
    head = f"{html.escape(c.proxy)} vs {html.escape(c.target)} · {html.escape(c.source)}"
    if c.spearman is None:
        return f"{head}<br><sub>no rank correlation: {html.escape(c.reason or '')}</sub>"
    return (f"{head}<br><sub>Spearman {rank_text(c.spearman, c.spearman_ci)} · Kendall "
            f"{rank_text(c.kendall, c.kendall_ci)} · {c.n} encoders (95% intervals)</sub>")


def scatter(c: Correlation, metric: str) -> dict[str, Any]:
    points = [{**p, "label": display_name(p["encoder_id"])} for p in c.points]
    return triage_scatter(
        points, scatter_title(c),
        x_title=f"proxy: {html.escape(c.proxy)} ({html.escape(metric)}; bars: 95% interval)",
        y_title=f"measured: {html.escape(c.target)}")


def proxy_table(table: Sequence[Row]) -> tuple[list[str], list[Row]]:
    """Encoders (by name) x proxies: each cell the overall score and its interval."""
    columns = [t["proxy"] for t in table]
    rows: dict[str, Row] = {}
    for t in table:
        for s in t["scores"]:
            row = rows.setdefault(s["encoder_id"], {"encoder_id": s["encoder_id"],
                                                    "name": s["name"], "cells": {}})
            row["cells"][t["proxy"]] = {"value": s["value"], "text": value_text(s["value"],
                                                                                s["ci"])}
    return columns, sorted(rows.values(), key=lambda r: (r["name"].lower(), r["encoder_id"]))


def render_triage(found: Sequence[Correlation], proxies: ProxyValues, *, smoke: bool = False,
                  proxy: str | None = None, source: str | None = None,
                  target: str | None = None) -> str:
    """``found``: every correlation (``correlate.correlations``); ``proxies``: every proxy
    score (``correlate.proxy_values``); ``smoke``: the tiny twins' instead of real weights'."""
    shown = [c for c in found if c.smoke == smoke]
    table = proxy_scores(proxies, smoke)
    elsewhere = sum(len(v) for (_, flag), v in proxies.items() if flag != smoke)
    chosen, not_found = choose(shown, proxy, source, target)
    figures = {}
    if chosen is not None and chosen.points:
        metric = next((t["metric"] for t in table if t["proxy"] == chosen.proxy), "score")
        figures[SCATTER] = scatter(chosen, metric)
    columns, encoders = proxy_table(table)
    return render_page(
        "triage.html", "Triage", "Triage", figures,
        smoke=smoke, min_encoders=MIN_ENCODERS,
        has_proxies=bool(table), elsewhere=elsewhere,
        other_url=page_url(not smoke), triage_command=TWINS_COMMAND if smoke else TRIAGE_COMMAND,
        rows=[correlation_row(c, smoke, c is chosen) for c in shown],
        chosen=chosen, chosen_name=" · ".join(key(chosen)) if chosen else "",
        not_found=" · ".join(v or "(any)" for v in (proxy, source, target)) if not_found else "",
        scatter_id=SCATTER if SCATTER in figures else None,
        proxy_columns=columns, encoders=encoders,
        twins=sum(len(t["scores"]) for t in table) if smoke else 0,
    )


router = APIRouter(tags=["dashboard"], include_in_schema=False)
Twins = Annotated[bool, Query(alias=SMOKE_PARAM)]
"""The tiny random-weight twins' proxy scores (checked against twins) instead of real ones."""


@router.get(PATH, response_class=HTMLResponse)
def triage_page(store: StoreDep, cache: PageCacheDep, smoke: Twins = False, proxy: Name = None,
                source: Name = None, target: Name = None) -> HTMLResponse:
    def render() -> str:
        found = triage(store)
        return render_triage(found.correlations, found.proxies, smoke=smoke, proxy=proxy,
                             source=source, target=target)

    return HTMLResponse(cache.get(store, (PATH, smoke, proxy, source, target), render))
