"""``GET /api/v1/triage/...``: the frozen-feature proxy scores ``harness triage`` recorded, how
well each proxy has predicted the measured scores (rank correlations with their intervals), and
the encoders worth a full sweep."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from api.deps import StoreDep
from api.schemas import TriageCorrelations, TriageProxies, TriageRecommendation
from api.views import proxy_scores, triage
from harness.errors import HarnessError
from harness.triage.correlate import MIN_ENCODERS
from harness.triage.recommend import recommend

MAX_BUDGET = 1000
Smoke = Annotated[bool, Query(description="Tiny random-weight twins (a smoke test of the "
                                          "proxies) instead of real weights.")]

router = APIRouter(tags=["triage"])


@router.get("/triage/correlations")
def get_correlations(store: StoreDep, smoke: Smoke = False) -> TriageCorrelations:
    """Each proxy against each measured target (a benchmark, a category average, the average
    of all; per recipe and LLM, and Cambrian-1's Figure 4): Spearman and Kendall rank
    correlations over the encoders that have both, each with its 95% bootstrap interval over
    encoders. With fewer than ``min_encoders`` encoders, or no spread, ``reason`` says why
    there is none."""
    found = [c.as_dict() for c in triage(store).correlations if c.smoke == smoke]
    return TriageCorrelations(min_encoders=MIN_ENCODERS, smoke=smoke, correlations=found)


@router.get("/triage/proxies")
def get_proxies(store: StoreDep, smoke: Smoke = False) -> TriageProxies:
    """Per proxy, each encoder's newest overall score with its 95% interval, best first."""
    return TriageProxies(smoke=smoke, proxies=proxy_scores(triage(store).proxies, smoke))


@router.get("/triage/recommendation",
            responses={404: {"description": "No proxy scores to rank encoders by"}})
def get_recommendation(
    store: StoreDep,
    budget: Annotated[int, Query(ge=1, le=MAX_BUDGET,
                                 description="How many encoders to recommend.")],
    smoke: Smoke = False,
) -> TriageRecommendation:
    """The ``budget`` encoders worth a full sweep, ranked by the proxy with the highest
    Spearman correlation with a measured average so far (the attentive probe, unchecked,
    while none has one). ``harness sweep --encoders triage:K`` runs them."""
    try:
        chosen = recommend(store, budget, smoke=smoke, known=triage(store))
    except HarnessError as exc:
        raise HTTPException(404, str(exc)) from exc
    return TriageRecommendation(**chosen.as_dict())
