"""``--budget K`` and ``triage:K``: the proxy that predicted the measured average best ranks the
encoders, the recommendation says how well it predicted, and it says so when none is checked."""

from __future__ import annotations

import pytest

from harness.errors import HarnessError
from harness.published.reader import read_builtin
from harness.store import Store
from harness.store.published import import_published
from harness.triage.correlate import (
    PUBLISHED_SOURCE,
    correlations,
    measured_targets,
    published_targets,
)
from harness.triage.recommend import parse_selector, recommend

from .records import study

ENCODERS = [f"enc{i}.w" for i in range(6)]
MEASURED = {e: 40.0 + 3 * i for i, e in enumerate(ENCODERS)}
# knn orders the encoders as measured; pairs reverses them; the attentive probe is noise.
PROXIES = {
    "knn": {e: 50.0 + i for i, e in enumerate(ENCODERS)},
    "pairs": {e: 90.0 - i for i, e in enumerate(ENCODERS)},
    "attentive-probe": {e: v for e, v in zip(ENCODERS, [60, 40, 70, 45, 55, 50], strict=True)},
}


@pytest.fixture()
def store(tmp_path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'harness.db'}")
    study(store, MEASURED, PROXIES)
    return store


def test_measured_targets_average_seeds_and_leave_blind_metrics_out(store: Store) -> None:
    targets = {t.name: t for t in measured_targets(store)}
    assert set(targets) == {"probe accuracy", "Vision-Centric", "Average"}
    assert targets["Average"].values == MEASURED
    assert targets["Average"].source == "frozen / tiny-llm"


def test_the_best_predictor_ranks_and_says_how_well_it_predicted(store: Store) -> None:
    found = {c.proxy: c for c in correlations(store) if c.target == "Average"}
    assert (found["knn"].spearman, found["pairs"].spearman) == (1.0, -1.0)
    chosen = recommend(store, 2, smoke=False)
    assert chosen.proxy == "knn" and chosen.encoder_ids == ["enc5.w", "enc4.w"]
    assert chosen.explanation() == ("ranked by knn, the proxy that has predicted best so far: "
                                    "Spearman +1.00 [+1.00, +1.00] with the Average of frozen /"
                                    " tiny-llm over 6 encoders")


def test_with_no_measured_scores_the_default_proxy_ranks_unchecked(tmp_path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'h.db'}")
    study(store, {}, PROXIES)
    chosen = recommend(store, 10, smoke=False, among=ENCODERS[:3])
    assert chosen.proxy == "attentive-probe" and chosen.basis is None
    assert chosen.encoder_ids == ["enc2.w", "enc0.w", "enc1.w"]
    assert "unchecked" in chosen.explanation()
    assert chosen.notes == ["the budget is 10 but only 3 encoders have a attentive-probe score:"
                            " all of them are recommended"]


def test_twins_are_ranked_only_from_twin_scores(store: Store) -> None:
    with pytest.raises(HarnessError, match="no attentive-probe scores for tiny twins"):
        recommend(store, 2, smoke=True)


@pytest.mark.parametrize("text, expected", [("triage:3", 3), (" triage:12", 12), ("all", None),
                                            ("clip-vit-l14-336.openai", None)])
def test_selector(text: str, expected: int | None) -> None:
    assert parse_selector(text) == expected


@pytest.mark.parametrize("text", ["triage:", "triage:0", "triage:x", "triage:-1"])
def test_bad_selector_is_one_line_with_an_example(text: str) -> None:
    with pytest.raises(HarnessError, match=r"expected triage:K .* e\.g\. triage:3"):
        parse_selector(text)


def test_bad_budget(store: Store) -> None:
    with pytest.raises(HarnessError, match="bad budget 0"):
        recommend(store, 0, smoke=False)


def test_figure_4_counts_as_measured_so_a_proxy_is_checked_without_training(tmp_path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'h.db'}")
    import_published(store, read_builtin("cambrian-1"), "cambrian-1")
    paper = {t.name: t for t in published_targets(store)}
    assert set(paper) == {"General", "Knowledge", "OCR & Chart", "Vision-Centric", "Average"}
    average = paper["Average"].values
    clip = "clip-vit-l14-336.openai"
    # OpenAI CLIP@336's four Figure 4 category averages, as the paper gives them.
    assert average[clip] == pytest.approx((66.0056 + 48.125 + 39.765 + 48.075) / 4)
    # A proxy that ranks six of the paper's encoders as their Vision-Centric average does.
    six = sorted(paper["Vision-Centric"].values, key=paper["Vision-Centric"].values.get)[:6]
    study(store, {}, {"knn": {e: float(i) for i, e in enumerate(six)}})
    found = {c.target: c for c in correlations(store) if c.source == PUBLISHED_SOURCE}
    assert found["Vision-Centric"].n == 6 and found["Vision-Centric"].spearman == 1.0
    assert found["Average"].spearman is not None and found["Average"].spearman_ci is not None
    chosen = recommend(store, 1, smoke=False)
    assert chosen.basis.source == PUBLISHED_SOURCE and chosen.encoder_ids == [six[-1]]
