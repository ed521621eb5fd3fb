"""The frozen-encoder feature cache: reused across frozen recipes and seeds (no encoder
forward the second time), a new key whenever what decides the features changes, never used
by an unfrozen recipe, safe when two processes build it at once, and the same numbers as a run
without it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from PIL import Image

from harness.data import feature_cache
from harness.data.feature_cache import MANIFEST, FeatureStore, ensure
from harness.encoder import ENCODERS, Encoder
from harness.loaders import build_encoder
from harness.record import read_record
from harness.sweep.job import RunJob
from harness.testing import ForwardCounter

from ..sweep.conftest import MINI_PRESET, plan_mini

ENCODER = "clip-vit-l14-336.openai"


@pytest.fixture
def count_forwards() -> ForwardCounter:
    with ForwardCounter() as forwards:
        yield forwards


def _preset(folder: Path, cache: bool = True) -> Path:
    path = folder / ("mini.toml" if cache else "mini-nocache.toml")
    text = MINI_PRESET if cache else MINI_PRESET.replace(
        'name = "mini"', 'name = "mini"\nfeature_cache = false')
    path.write_text(text)
    return path


def _run(root: Path, preset: Path, recipe: str, seed: int):
    run = plan_mini(root, preset, recipes=(recipe,), seeds=(seed,))[0]
    assert RunJob(checkpoint_every_s=0).run_one(run) == "done", \
        (Path(run.run_dir) / "error.log").read_text()
    return run, read_record(Path(run.run_dir))


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> dict:
    """Two frozen runs sharing one cache (other recipe, other seed), and the first run again
    with the cache switched off; with the encoder forwards each one made."""
    folder = tmp_path_factory.mktemp("sweep")
    out = {"root": folder / "root"}
    for name, preset, recipe, seed in (
            ("first", _preset(folder), "frozen", 0),
            ("second", _preset(folder), "cambrian-1stage-frozen", 1),
            ("plain", _preset(folder, cache=False), "frozen", 0)):
        root = folder / ("plain" if name == "plain" else "root")
        with ForwardCounter() as forwards:
            run, record = _run(root, preset, recipe, seed)
        out[name] = (run, record, forwards.n)
    return out


def test_second_frozen_recipe_and_seed_run_no_encoder_forward(sweep: dict) -> None:
    _, a, built = sweep["first"]
    assert a.train["feature_cache"]["hit"] is False
    # Every training and test image once: 8 align + 12 train + 9 test.
    assert built == a.train["feature_cache"]["encoder_forwards"] == 29
    _, b, forwards = sweep["second"]
    assert forwards == 0
    assert b.train["feature_cache"] == {**a.train["feature_cache"], "hit": True,
                                       "encoder_forwards": 0}
    assert [p.name for p in (sweep["root"] / "cache" / "features").iterdir()
            if p.is_dir()] == a.train["feature_cache"]["keys"]


def test_cached_run_gives_the_numbers_of_an_uncached_one(sweep: dict) -> None:
    cached_run, cached, _ = sweep["first"]
    plain_run, plain, forwards = sweep["plain"]
    assert cached_run.key == plain_run.key  # the switch is not part of what a run measures
    assert plain.train["feature_cache"]["used"] is False
    # Without the cache the encoder runs on every sample of every batch, and every test item.
    assert forwards == plain.train["align"]["samples"] + plain.train["finetune"]["samples"] + 9
    for stage in ("align", "finetune"):
        for field in ("first_loss", "final_loss"):
            assert cached.train[stage][field] == pytest.approx(plain.train[stage][field],
                                                               rel=1e-5, abs=1e-6)
    assert [(s.subset, s.value) for s in cached.scores] == \
        [(s.subset, s.value) for s in plain.scores]


def test_unfrozen_recipe_never_uses_the_cache(tmp_path: Path) -> None:
    run = plan_mini(tmp_path / "root", _preset(tmp_path), recipes=("unfrozen",))[0]
    assert run.feature_cache  # switched on, yet not used
    features, record = feature_cache.for_run(run, [], tmp_path, [], accelerator=None)
    assert features is None
    assert record == {"used": False, "hit": False, "reason": "encoder unfrozen in the recipe"}
    assert not (tmp_path / "root" / "cache").exists()


# -- keys and invalidation, on the cache alone ------------------------------------------------

def _images(root: Path, n: int = 6) -> list[str]:
    refs = []
    for i in range(n):
        ref = f"img/{i}.png"
        (root / "img").mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (40, 40), (40 * i, 255 - 30 * i, 90)).save(root / ref)
        refs.append(ref)
    return refs


def _encoder(**overrides) -> Encoder:
    torch.manual_seed(0)
    return build_encoder(ENCODERS.get(ENCODER), tiny=True, **overrides)


def _ensure(cache: Path, encoder: Encoder, data: Path, refs: list[str]):
    return ensure(cache, encoder, encoder.transform(), data, refs, device="cpu", batch_size=4)


def test_reuse_then_invalidation(tmp_path: Path, count_forwards: ForwardCounter) -> None:
    data, cache = tmp_path / "data", tmp_path / "cache"
    refs = _images(data)
    encoder = _encoder()
    store, use = _ensure(cache, encoder, data, refs)
    assert (use.hit, use.encoder_forwards, count_forwards.n) == (False, 6, 6)
    with torch.no_grad():
        direct = encoder(torch.stack([encoder.transform()(Image.open(data / r).convert("RGB"))
                                      for r in refs]))
    assert torch.allclose(torch.stack([store.get(r) for r in refs]), direct, atol=1e-6)

    again, use = _ensure(cache, _encoder(), data, refs)
    assert (use.hit, use.key, count_forwards.n) == (True, store.key, 12)

    keys = {store.key}
    changed = {
        "resolution": _encoder(resolution=96),
        "feature layer": _encoder(feature_layer=-3),
        "output grid": _encoder(output_grid=(2, 2)),
        "precision": _encoder(precision="bf16"),
    }
    weights = _encoder()
    with torch.no_grad():
        next(weights.parameters()).add_(1e-3)
    changed["weights"] = weights
    for what, other in changed.items():
        _, use = _ensure(cache, other, data, refs)
        assert not use.hit and use.key not in keys, what
        keys.add(use.key)

    # An image rewritten in place is a new dataset: a new key, never the old features.
    Image.new("RGB", (40, 40), (1, 2, 3)).save(data / refs[0])
    _, use = _ensure(cache, encoder, data, refs)
    assert not use.hit and use.key not in keys
    # A different image list is a new dataset too.
    _, use2 = _ensure(cache, encoder, data, refs[:3])
    assert not use2.hit and use2.key not in keys | {use.key}
    assert sorted(p.name for p in cache.iterdir() if p.is_dir()) == sorted(
        keys | {use.key, use2.key})


def test_unreadable_images_are_listed_and_skipped_like_the_pixel_path(tmp_path: Path) -> None:
    from harness.data.conversations import ConversationDataset
    from harness.model.llm import LLMS, build_llm

    data = tmp_path / "data"
    refs = _images(data, 4)
    (data / refs[1]).write_bytes(b"not a png")
    encoder = _encoder()
    store, _ = _ensure(tmp_path / "cache", encoder, data, refs)
    assert set(store.unreadable) == {refs[1]} and len(store) == 3
    _, tokenizer = build_llm(LLMS.get("tiny-llama"), ["what shape? a circle"] * 3)
    rows = [{"image": r, "conversations": [{"from": "human", "value": "<image>\nwhat shape?"},
                                           {"from": "gpt", "value": "a circle"}]}
            for r in refs]
    plain = ConversationDataset(rows, data, tokenizer, encoder.transform(),
                                num_image_tokens=encoder.num_tokens, max_length=512)
    cached = feature_cache.FeatureDataset(
        ConversationDataset(rows, data, tokenizer, encoder.transform(),
                            num_image_tokens=encoder.num_tokens, max_length=512), [store])
    batch_plain = plain.collate([plain[i] for i in range(4)])
    batch_cached = cached.collate([cached[i] for i in range(4)])
    assert set(batch_cached.pop("unreadable")) == set(batch_plain.pop("unreadable")) == {
        str(data / refs[1])}
    assert torch.equal(batch_plain["input_ids"], batch_cached["input_ids"])
    assert torch.equal(batch_plain["labels"], batch_cached["labels"])
    with torch.no_grad():
        assert torch.allclose(encoder(batch_plain["pixels"]), batch_cached["image_features"][0],
                              atol=1e-6)


def test_a_folder_without_manifest_is_rebuilt_and_a_lost_race_keeps_the_winner(
        tmp_path: Path) -> None:
    data, cache = tmp_path / "data", tmp_path / "cache"
    refs = _images(data, 3)
    store, use = _ensure(cache, _encoder(), data, refs)
    (store.folder / MANIFEST).unlink()  # as if a build had been copied in half
    store, use = _ensure(cache, _encoder(), data, refs)
    assert not use.hit and len(FeatureStore(store.folder)) == 3

    loser = cache / ".tmp-loser"
    loser.mkdir()
    (loser / "x").write_text("a build that finished second")
    assert feature_cache._publish(loser, store.folder) is False
    assert not loser.exists() and (store.folder / MANIFEST).exists()


CHILD = """
import json, os, sys, time
from pathlib import Path
import torch
from harness.data.feature_cache import ensure
from harness.encoder import ENCODERS
from harness.loaders import build_encoder

cache, data, go, refs = sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4:]
torch.manual_seed(0)
encoder = build_encoder(ENCODERS.get("ENCODER_ID"), tiny=True)
transform = encoder.transform()


class Slow:  # widens the race; reads as the same transform, so the key is the same
    def __call__(self, img):
        time.sleep(0.05)
        return transform(img)

    def __repr__(self):
        return repr(transform)


(go.parent / f"ready-{os.getpid()}").touch()
while not go.exists():  # both jobs start building at the same moment
    time.sleep(0.01)
store, use = ensure(Path(cache), encoder, Slow(), Path(data), refs, device="cpu", batch_size=4)
print(json.dumps([use.hit, use.encoder_forwards, use.key,
                  torch.stack([store.get(r) for r in refs]).sum().item()]))
""".replace("ENCODER_ID", ENCODER)


def test_two_processes_building_the_same_cache(tmp_path: Path) -> None:
    data, cache, go = tmp_path / "data", tmp_path / "cache", tmp_path / "go"
    refs = _images(data, 12)
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    procs = [subprocess.Popen([sys.executable, str(script), str(cache), str(data), str(go),
                               *refs], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    deadline = time.monotonic() + 240
    while len(list(tmp_path.glob("ready-*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    go.touch()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert sorted(r[0] for r in results) == [False, True]  # one built, one waited and read
    assert sum(r[1] for r in results) == 12  # every image went through an encoder once
    assert results[0][2:] == results[1][2:]  # same key, same features
    assert [p.name for p in cache.iterdir() if p.name.startswith(".tmp")] == []


def test_cached_features_give_the_pixel_loss(tmp_path: Path) -> None:
    from harness.model.connector_parts import FeatureShape
    from harness.model.connectors import CONNECTORS
    from harness.model.llm import LLMS, build_llm, image_token_id
    from harness.model.mllm import MLLM

    encoder = _encoder()
    llm, tok = build_llm(LLMS.get("tiny-llama"), ["a red circle left of a blue square"] * 3)
    connector = CONNECTORS.get("mlp2x_gelu").create(
        [FeatureShape(encoder.embed_dim, encoder.grid)], llm.config.hidden_size)
    model = MLLM(encoder, connector, llm, image_token_id(tok))
    n = model.num_image_tokens
    ids = torch.tensor([[1] + [model.image_token_id] * n + [40, 41, 42]] * 2)
    labels = torch.full_like(ids, -100)
    labels[:, -2:] = ids[:, -2:]
    pixels = torch.randn(2, 3, encoder.image_size, encoder.image_size)
    with torch.no_grad():
        features = encoder(pixels)
    with_pixels = model(ids, torch.ones_like(ids), pixels, labels=labels)
    with_features = model(ids, torch.ones_like(ids), None, labels=labels,
                          image_features=[features])
    assert with_features.item() == with_pixels.item()
