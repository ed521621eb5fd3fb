"""The dashboard's pages, one module each (its route and its ``render_*``), and the router
that serves them all with their scripts, locally: no CDN, no internet."""

from __future__ import annotations

from fastapi import APIRouter

from api.dashboard import assets
from api.dashboard.cache import PageCache
from api.dashboard.pages import benchmarks, families, leaderboard, recipes, runs, triage
from harness.store import Store

router = APIRouter()
for page in (leaderboard, families, recipes, benchmarks, triage, runs, assets):
    router.include_router(page.router)


def warm_up(store: Store, cache: PageCache) -> None:
    """Render the dashboard's default pages once (at start-up): the first visitor then meets
    neither the aggregate over every score nor the first-use costs of templates and imports."""
    leaderboard.leaderboard(store, cache)
    families.families(store, cache)
    recipes.recipes(store, cache)
    benchmarks.benchmarks(store, cache)
    store.choices()
