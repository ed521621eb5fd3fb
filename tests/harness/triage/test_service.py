"""``harness triage``'s runner: one record per encoder and proxy, ingested with provenance;
reused when done; a proxy that fails is recorded as failed with the reason while the others go
on; alignment computed from finished runs' connectors, or skipped with the reason."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from harness.data.feature_cache import weights_hash
from harness.encoder import ENCODERS
from harness.errors import HarnessError
from harness.loaders import build_fixed_encoder
from harness.preset import PRESETS
from harness.recipe import RECIPES
from harness.record import read_record
from harness.store import Store, ingest_paths
from harness.sweep.model import build_model
from harness.sweep.plan import plan_sweep
from harness.triage import service
from harness.triage.data import TriageSettings
from harness.triage.proxies import PROXIES
from harness.triage.service import TRIAGE_DIR, TriageRequest, triage

SMALL = TriageSettings(train_per_task=12, test_per_task=6, triplets_per_attribute=4,
                       correspondences=4, image_size=64, resamples=100)
CLIP, DINO = "clip-vit-l14-336.openai", "dinov2-vit-l14-518.lvd142m"


def request(root: Path, *encoders: str, **changes) -> TriageRequest:
    options = {"settings": SMALL, "proxies": ("knn", "pairs"), **changes}
    return TriageRequest(list(encoders), root, tiny=True, **options)


def test_each_proxy_is_a_record_ingested_with_provenance_and_reused(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'h.db'}")
    first = triage(request(tmp_path, CLIP, DINO), store)
    assert [(o.encoder_id, o.proxy, o.status) for o in first] == [
        (CLIP, "knn", "done"), (CLIP, "pairs", "done"), (DINO, "knn", "done"),
        (DINO, "pairs", "done")]
    record = read_record(tmp_path / TRIAGE_DIR / first[0].run_key)
    assert (record.recipe, record.smoke, record.encoder.id, record.encoder.tiny) == (
        "triage", True, CLIP, True)
    assert record.encoder.params > 0 and record.code_version and record.host
    assert record.config["triage"]["settings"]["train_per_task"] == 12
    assert {s.kind for s in record.scores} == {"proxy"}
    stored = store.run(first[0].run_key)
    assert stored["status"] == "done" and {s["benchmark"] for s in stored["scores"]} == {
        "proxy:knn"}
    again = triage(request(tmp_path, CLIP, DINO), store)
    assert [o.status for o in again] == ["reused"] * 4
    assert [o.run_key for o in again] == [o.run_key for o in first]
    # Other settings are another result, not the same one overwritten.
    other = triage(request(tmp_path, CLIP, settings=dataclasses.replace(SMALL, seed=1)),
                   store)
    assert {o.status for o in other} == {"done"} and other[0].run_key != first[0].run_key


def test_a_failing_proxy_is_recorded_as_failed_and_the_others_go_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def out_of_memory(encoded):
        raise MemoryError("could not allocate 80 GB\nsecond line")

    monkeypatch.setitem(PROXIES, "knn", PROXIES["knn"].__class__(
        "knn", "accuracy", "fails", out_of_memory))
    store = Store(f"sqlite:///{tmp_path / 'h.db'}")
    outcomes = {o.proxy: o for o in triage(request(tmp_path, CLIP), store)}
    assert outcomes["pairs"].status == "done"
    assert (outcomes["knn"].status, outcomes["knn"].reason) == (
        "failed", "MemoryError: could not allocate 80 GB")
    failed = store.run(outcomes["knn"].run_key)
    assert failed["status"] == "failed" and failed["error"] == outcomes["knn"].reason
    # A failed proxy is computed again next time (it may have been memory, not the encoder).
    monkeypatch.undo()
    again = {o.proxy: o.status for o in triage(request(tmp_path, CLIP), store)}
    assert again == {"knn": "done", "pairs": "reused"}


def test_an_encoder_that_cannot_be_built_fails_each_proxy_with_the_reason(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("size mismatch for stem")

    monkeypatch.setattr(service, "build_fixed_encoder", broken)
    outcomes = triage(request(tmp_path, CLIP), Store(f"sqlite:///{tmp_path / 'h.db'}"))
    assert [(o.status, o.reason) for o in outcomes] == [
        ("failed", "the encoder could not be built: RuntimeError: size mismatch for stem")] * 2


@pytest.mark.parametrize("changes, message", [
    ({"encoder_ids": ["nope.x"]}, "unknown encoder 'nope.x'; valid: "),
    ({"encoder_ids": [f"{CLIP}+{DINO}"]}, "one encoder at a time"),
    ({"encoder_ids": []}, "no encoder given"),
    ({"proxies": ("knn", "vibes")}, "unknown proxy 'vibes'; valid: linear-probe, "),
    ({"proxies": ("alignment",), "reference": "nope.y"}, "unknown encoder 'nope.y'"),
])
def test_bad_requests_are_refused_before_anything_runs(tmp_path: Path, changes: dict,
                                                       message: str) -> None:
    ids = changes.pop("encoder_ids", [CLIP])
    with pytest.raises(HarnessError, match=message.replace("+", r"\+")):
        triage(request(tmp_path, *ids, **changes), Store(f"sqlite:///{tmp_path / 'h.db'}"))
    assert not (tmp_path / TRIAGE_DIR).exists()


def test_alignment_compares_connector_outputs_of_finished_runs(tmp_path: Path,
                                                                finished: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'h.db'}")
    assert ingest_paths(store, [finished]).ok
    own = triage(request(tmp_path, CLIP, proxies=("alignment",), reference=CLIP), store)[0]
    # Against itself every token finds itself: the score is 100.
    assert own.status == "done" and own.overall.value == pytest.approx(100.0, abs=1e-3)
    assert own.overall.range_min == -100.0
    record = read_record(tmp_path / TRIAGE_DIR / own.run_key)
    assert record.config["triage"]["encoder_run"] == finished.name
    assert record.llm == store.run(finished.name)["llm"]
    skipped = triage(request(tmp_path, CLIP, proxies=("alignment",), reference=DINO), store)[0]
    assert skipped.status == "skipped" and skipped.reason.startswith(
        f"no finished run of the reference {DINO} with a saved model")
    none = triage(request(tmp_path, DINO, proxies=("alignment",), reference=CLIP), store)[0]
    assert none.status == "skipped" and none.reason.startswith(f"no finished run of {DINO}")


def test_random_weights_are_the_ones_a_sweep_trains_on(tmp_path: Path) -> None:
    # A twin's (or a random control's) weights must not depend on what ran before it in the
    # process, or triage would score another network than the sweep's and could not repeat.
    torch.manual_seed(123)
    first = triage(request(tmp_path / "a", DINO), Store(f"sqlite:///{tmp_path / 'a.db'}"))
    torch.rand(1000)
    again = triage(request(tmp_path / "b", DINO), Store(f"sqlite:///{tmp_path / 'b.db'}"))
    assert [o.scores for o in first] == [o.scores for o in again]
    spec = ENCODERS.get(DINO)
    assert weights_hash(build_fixed_encoder(spec, tiny=True)) == weights_hash(
        build_model(plan_sweep([DINO], [RECIPES.get("frozen")], PRESETS.get("smoke"), [3],
                               tmp_path / "runs")[0])[0].encoder)


def test_each_outcome_is_reported_as_it_lands(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    heard: list[str] = []
    knn = PROXIES["knn"]

    def after_pairs(encoded):
        assert heard == ["pairs"]  # the first proxy was reported before this one ran
        return knn.compute(encoded)

    monkeypatch.setitem(PROXIES, "knn", knn.__class__("knn", "accuracy", "", after_pairs))
    triage(request(tmp_path, CLIP, proxies=("pairs", "knn")),
           Store(f"sqlite:///{tmp_path / 'h.db'}"), on_outcome=lambda o: heard.append(o.proxy))
    assert heard == ["pairs", "knn"]
