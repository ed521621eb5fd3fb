"""``--budget K``: the K encoders worth a full sweep, ranked by the proxy that has predicted
the measured average best so far (the highest Spearman correlation with an ``Average`` target,
over at least ``MIN_ENCODERS`` encoders), and how well it predicted. With no proxy checked
yet, the attentive probe ranks them (or, where it was not computed, the first proxy that was),
and the recommendation says it is unchecked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.errors import HarnessError
from harness.store import Store
from harness.triage.correlate import (
    AVERAGE,
    MIN_ENCODERS,
    Correlation,
    Triage,
    read_triage,
)

DEFAULT_PROXY = "attentive-probe"
"""Used while no proxy has been checked: it reads every token, as the MLLM's connector does."""
SELECTOR = "triage:"
"""``harness sweep --encoders triage:K`` runs the K encoders recommended here."""


@dataclass
class Recommendation:
    proxy: str
    encoders: list[dict[str, Any]]
    """Best first: encoder id, the proxy's value and its interval."""
    basis: Correlation | None
    """The correlation that chose the proxy; None when none has been checked."""
    candidates: int
    notes: list[str] = field(default_factory=list)

    @property
    def encoder_ids(self) -> list[str]:
        return [e["encoder_id"] for e in self.encoders]

    def explanation(self) -> str:
        if self.basis is None:
            return (f"ranked by {self.proxy}, unchecked: no proxy has a rank correlation with a"
                    f" measured average yet (it needs {MIN_ENCODERS} or more encoders with both"
                    " scores, and a spread in each)")
        b = self.basis
        interval = (f" [{b.spearman_ci[0]:+.2f}, {b.spearman_ci[1]:+.2f}]"
                    if b.spearman_ci else "")
        return (f"ranked by {self.proxy}, the proxy that has predicted best so far: Spearman "
                f"{b.spearman:+.2f}{interval} with the {b.target} of {b.source} over "
                f"{b.n} encoders")

    def as_dict(self) -> dict[str, Any]:
        return {"proxy": self.proxy, "encoders": self.encoders, "candidates": self.candidates,
                "basis": self.basis.as_dict() if self.basis else None,
                "explanation": self.explanation(), "notes": self.notes}


def best_predictor(found: list[Correlation], smoke: bool) -> Correlation | None:
    checked = [c for c in found if c.smoke == smoke and c.target == AVERAGE
               and c.spearman is not None]
    return max(checked, key=lambda c: (c.spearman, c.n), default=None)


def recommend(store: Store, budget: int, *, smoke: bool, among: list[str] | None = None,
              known: Triage | None = None) -> Recommendation:
    """The ``budget`` encoders (of ``among``, else every triaged one) to sweep; ``known``:
    the store's triage already read (``read_triage``), so it is not read again."""
    if budget < 1:
        raise HarnessError(f"bad budget {budget}; expected a number of encoders, 1 or more")
    known = known or read_triage(store)
    basis = best_predictor(known.correlations, smoke)
    held = known.proxies

    def candidates(proxy: str) -> dict[str, dict[str, Any]]:
        scored = held.get((proxy, smoke), {})
        return {e: v for e, v in scored.items() if among is None or e in among}

    if basis is not None:
        proxy = basis.proxy
    else:
        # Unchecked: the default proxy where it was computed, else the first one that was.
        proxy = next((p for p in (DEFAULT_PROXY, *sorted(p for p, _ in held))
                      if candidates(p)), DEFAULT_PROXY)
    scored = candidates(proxy)
    if not scored:
        kind = "tiny twins" if smoke else "real weights"
        raise HarnessError(f"no {proxy} scores for {kind} in the store; run harness triage "
                           f"--encoders ...{' --tiny' if smoke else ''} first")
    ranked = sorted(scored.items(), key=lambda kv: (-kv[1]["value"], kv[0]))
    notes = []
    if budget > len(ranked):
        notes.append(f"the budget is {budget} but only {len(ranked)} encoders have a {proxy}"
                     " score: all of them are recommended")
    return Recommendation(
        proxy=proxy, basis=basis, candidates=len(ranked), notes=notes,
        encoders=[{"encoder_id": e, "value": v["value"], "ci": v["ci"]}
                  for e, v in ranked[:budget]])


def parse_selector(text: str) -> int | None:
    """K from ``triage:K``; None when ``text`` is not a triage selector."""
    if not text.strip().startswith(SELECTOR):
        return None
    count = text.strip()[len(SELECTOR):]
    if not count.isdigit() or int(count) < 1:
        raise HarnessError(f"bad encoder selector {text.strip()!r}; expected triage:K with K"
                           " a number of encoders, e.g. triage:3")
    return int(count)
