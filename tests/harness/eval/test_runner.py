"""The runner with a tiny MLLM on a handful of items: generation, option log-likelihood,
blind mode, predictions kept and resumed, limits, subsets and unreadable images."""

from __future__ import annotations

import json
import weakref
from pathlib import Path

import pytest
import torch

from harness.encoder import ENCODERS
from harness.errors import HarnessError
from harness.eval import runner
from harness.eval.benchmarks import BENCHMARKS
from harness.eval.runner import evaluate, option_continuations, option_logliks, vision_reliance
from harness.loaders import build_encoder
from harness.model.connector_parts import FeatureShape
from harness.model.connectors import CONNECTORS
from harness.model.llm import LLMS, build_llm, image_token_id
from harness.model.mllm import IGNORE_INDEX, MLLM


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    encoder = build_encoder(ENCODERS.get("clip-vit-l14-336.openai"), tiny=True)
    llm, tok = build_llm(LLMS.get("tiny-llama"),
                         ["Question? Select from the following choices. (A) left (B) right"] * 3)
    connector = CONNECTORS.get("mlp2x_gelu").create(
        [FeatureShape(encoder.embed_dim, encoder.grid)], llm.config.hidden_size)
    return MLLM(encoder, connector, llm, image_token_id(tok)), tok, encoder.transform()


def run(tiny, root: Path, out: Path, name: str = "cv-bench", **kw):
    model, tok, transform = tiny
    kw.setdefault("max_new_tokens", 3)  # a random tiny LM never stops early: keep it short
    return evaluate(model, tok, BENCHMARKS.get(name), root, transform,
                    batch_size=kw.pop("batch_size", 4), predictions_file=out, **kw)


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_generation_keeps_every_prediction(tiny, layouts, tmp_path: Path) -> None:
    root = layouts.cvbench(tmp_path / "data")
    out = tmp_path / "pred" / "cv-bench.jsonl"
    scores = run(tiny, root, out)
    kept = lines(out)
    assert [p["idx"] for p in kept] == ["0", "1", "2", "3", "4", "5"]
    assert all(p["scoring"] == "generate" and "output" in p for p in kept)
    overall = next(s for s in scores if s.subset == "overall" and s.metric == "accuracy")
    assert overall.n == 6 and overall.prompt_hash and len(overall.dataset_hash) == 12
    rescored = BENCHMARKS.get("cv-bench").score([runner.Prediction(**p).judged() for p in kept])
    assert overall.value == next(m.value for m in rescored if m.subset == "overall")
    assert {"cvbench:2D", "cvbench:3D", "source:COCO"} <= {s.subset for s in scores}
    meta = json.loads((out.parent / "cv-bench.jsonl.meta.json").read_text())
    assert meta["mode"] == "generate" and meta["n_items"] == 6


def test_interrupted_evaluation_resumes_where_it_stopped(tiny, layouts, tmp_path: Path,
                                                         monkeypatch) -> None:
    root = layouts.cvbench(tmp_path / "data")
    reference = run(tiny, root, tmp_path / "ref.jsonl")
    out = tmp_path / "run.jsonl"
    real = runner._generate
    asked: list[str] = []

    def generate(model, tok, bench, ready, opts):
        if asked:  # the second batch dies (preemption, OOM)
            raise RuntimeError("killed")
        asked.extend(r.item.idx for r in ready)
        return real(model, tok, bench, ready, opts)

    monkeypatch.setattr(runner, "_generate", generate)
    with pytest.raises(RuntimeError, match="killed"):
        run(tiny, root, out)
    assert [p["idx"] for p in lines(out)] == ["0", "1", "2", "3"]
    with out.open("a") as fh:
        fh.write('{"idx": "4", "task": "De')  # a line torn by the crash

    asked.clear()

    def count(model, tok, bench, ready, opts):
        asked.extend(r.item.idx for r in ready)
        return real(model, tok, bench, ready, opts)

    monkeypatch.setattr(runner, "_generate", count)
    scores = run(tiny, root, out)
    assert asked == ["4", "5"]  # only what was missing
    assert [p["idx"] for p in lines(out)] == ["0", "1", "2", "3", "4", "5"]
    assert [(s.metric, s.subset, s.value) for s in scores] == \
        [(s.metric, s.subset, s.value) for s in reference]


def test_other_settings_start_afresh(tiny, layouts, tmp_path: Path) -> None:
    root = layouts.cvbench(tmp_path / "data")
    out = tmp_path / "run.jsonl"
    run(tiny, root, out)
    scores = run(tiny, root, out, limit=2)
    assert [p["idx"] for p in lines(out)] == ["0", "1"]
    overall = next(s for s in scores if s.subset == "overall")
    assert overall.n == 2
    full = run(tiny, root, out, resume=False)
    assert next(s for s in full if s.subset == "overall").dataset_hash != overall.dataset_hash
    before = out.read_text()
    run(tiny, root, out)
    assert out.read_text() == before
    run(tiny, root, out, limit=1, model_tag="checkpoint-2")  # other weights: start afresh
    assert [p["idx"] for p in lines(out)] == ["0"]
    meta = json.loads((tmp_path / "run.jsonl.meta.json").read_text())
    assert meta["model_tag"] == "checkpoint-2"


def test_slim_subset_and_bad_subset(tiny, layouts, tmp_path: Path) -> None:
    root = layouts.mmvp(tmp_path / "data", pairs=30)
    mmvp = BENCHMARKS.get("mmvp")
    slim = runner.select(mmvp.items(root), mmvp, subset="slim")
    assert len(slim) == 50 and len({i.group for i in slim}) == 25  # whole pairs only
    assert len(runner.select(mmvp.items(root), mmvp, subset="slim", limit=7)) == 7
    scores = run(tiny, root, tmp_path / "mmvp.jsonl", name="mmvp", limit=4)
    pairs = next(s for s in scores if s.metric == "pair_accuracy")
    assert pairs.n == 2 and pairs.label_patch.startswith("mmvp-swapped-labels-v1@")
    with pytest.raises(HarnessError, match="unknown subset 'tiny' of mmvp; valid: slim"):
        run(tiny, root, tmp_path / "x.jsonl", name="mmvp", subset="tiny")
    with pytest.raises(HarnessError, match="--limit must be at least 1"):
        run(tiny, root, tmp_path / "x.jsonl", name="mmvp", limit=0)


def test_blind_mode_shows_no_image(tiny, layouts, tmp_path: Path, monkeypatch) -> None:
    root = layouts.cvbench(tmp_path / "data")
    model, tok, _ = tiny
    seen = []
    real = model.generate

    def generate(ids, mask, pixels, max_new_tokens):
        seen.append((pixels, bool((ids == model.image_token_id).any())))
        return real(ids, mask, pixels, max_new_tokens=max_new_tokens)

    monkeypatch.setattr(model, "generate", generate)
    blind = run(tiny, root, tmp_path / "blind.jsonl", blind=True)
    assert seen and all(p is None and not slots for p, slots in seen)
    assert {s.metric for s in blind} == {"accuracy_blind"}
    seen.clear()
    with_image = run(tiny, root, tmp_path / "image.jsonl")
    assert all(p is not None and slots for p, slots in seen)
    reliance = {s.subset: s for s in vision_reliance(with_image, blind)}
    overall_with = next(s for s in with_image if s.subset == "overall")
    overall_blind = next(s for s in blind if s.subset == "overall")
    assert reliance["overall"].metric == "accuracy_vision_reliance"
    assert reliance["overall"].value == pytest.approx(overall_with.value - overall_blind.value)


def test_option_loglik_equals_the_model_loss(tiny, layouts, tmp_path: Path) -> None:
    model, tok, transform = tiny
    root = layouts.cvbench(tmp_path / "data")
    bench = BENCHMARKS.get("cv-bench")
    item = bench.items(root)[2]
    opts = runner.EvalOptions()
    ready = runner._prepare(model, tok, bench, item, root, transform, opts)
    got = option_logliks(model, tok, ready)
    assert len(got) == len(item.choices) == 2
    scored = runner.scored_tokens(option_continuations(tok, 2))
    # The shared end-of-turn is left out: each option is scored on its letter (and what every
    # letter is written after, read as the end of the prompt) alone.
    prefix, letters = runner.shared_prefix(scored)
    assert [len(c) for c in letters] == [1, 1]
    for k, cont in enumerate(scored):
        ids = torch.tensor([ready.ids + cont])
        labels = torch.full_like(ids, IGNORE_INDEX)
        labels[0, len(ready.ids):] = ids[0, len(ready.ids):]
        with torch.no_grad():
            loss = model(ids, torch.ones_like(ids), ready.pixels[None], labels=labels)
        # The model's loss is the mean negative log-likelihood over the answer tokens.
        assert got[k] == pytest.approx(-loss.item() * len(cont), rel=1e-4)


def test_batched_option_logliks_equal_one_question_at_a_time(tiny, layouts,
                                                            tmp_path: Path) -> None:
    model, tok, transform = tiny
    root = layouts.cvbench(tmp_path / "data")
    bench = BENCHMARKS.get("cv-bench")
    # Count questions have four options and longer prompts than the two-option ones, so the
    # batch is padded on both axes.
    ready = [runner._prepare(model, tok, bench, item, root, transform, runner.EvalOptions())
             for item in bench.items(root)[1:5]]
    assert len({len(r.ids) for r in ready}) > 1
    assert {len(r.item.choices) for r in ready} == {2, 4}
    batched = runner.batch_option_logliks(model, tok, ready)
    for r, got in zip(ready, batched, strict=True):
        assert got == pytest.approx(option_logliks(model, tok, r), rel=1e-4, abs=1e-4)


@pytest.mark.parametrize(("options", "scored"), [
    ([[5, 9, 2], [6, 9, 2]], [[5], [6]]),            # letter, then a shared end-of-turn
    ([[7, 5, 2], [7, 6, 2]], [[7, 5], [7, 6]]),      # a shared first token stays fed
    ([[5, 1, 2], [6, 2]], [[5, 1], [6]]),            # only what every option ends with goes
    ([[2], [2]], [[2], [2]]),                        # never less than one token
])
def test_scored_tokens_leave_out_the_ending_all_options_share(options, scored) -> None:
    assert runner.scored_tokens(options) == scored


def test_a_shared_prefix_is_split_off_and_each_option_keeps_a_token() -> None:
    assert runner.shared_prefix([[7, 5], [7, 6]]) == ([7], [[5], [6]])
    assert runner.shared_prefix([[7, 5, 1], [7, 5]]) == ([7], [[5, 1], [5]])
    assert runner.shared_prefix([[5], [6]]) == ([], [[5], [6]])


def test_options_of_several_own_tokens_read_from_the_cache_equal_the_model_loss(
        tiny, layouts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Answers whose options differ over two tokens take the second, cached pass.
    model, tok, transform = tiny
    root = layouts.cvbench(tmp_path / "data")
    bench = BENCHMARKS.get("cv-bench")
    ready = [runner._prepare(model, tok, bench, item, root, transform, runner.EvalOptions())
             for item in bench.items(root)[1:5]]
    answers = {n: [[40 + k, 60 + k, 7, tok.eos_token_id] for k in range(n)] for n in (2, 4)}
    monkeypatch.setattr(runner, "option_continuations", lambda _tok, n, _system="": answers[n])
    monkeypatch.setattr(runner, "_OPTION_TOKENS", weakref.WeakKeyDictionary())
    batched = runner.batch_option_logliks(model, tok, ready)
    for r, got in zip(ready, batched, strict=True):
        for k, cont in enumerate(answers[len(r.item.choices)]):
            scored = cont[:2]  # the shared "7, eos" ending is left out
            ids = torch.tensor([r.ids + scored])
            labels = torch.full_like(ids, IGNORE_INDEX)
            labels[0, len(r.ids):] = ids[0, len(r.ids):]
            with torch.no_grad():
                loss = model(ids, torch.ones_like(ids), r.pixels[None], labels=labels)
            assert got[k] == pytest.approx(-loss.item() * 2, rel=1e-4, abs=1e-4)


def test_option_tokens_are_the_trained_answer_tokens(tiny) -> None:
    from harness.model.chat import tokenize_conversation

    _, tok, _ = tiny
    for k, cont in enumerate(option_continuations(tok, 3)):
        turns = [{"from": "human", "value": "Which?"}, {"from": "gpt", "value": "ABC"[k]}]
        t = tokenize_conversation(turns, tok, num_image_tokens=0, max_length=64)
        assert [i for i, label in zip(t.input_ids, t.labels, strict=True)
                if label != IGNORE_INDEX] == cont
    assert cont[-1] == tok.eos_token_id


def test_loglik_mode_scores_as_its_own_metric(tiny, layouts, tmp_path: Path) -> None:
    root = layouts.cvbench(tmp_path / "data")
    out = tmp_path / "ll.jsonl"
    scores = run(tiny, root, out, mode="loglik")
    kept = lines(out)
    assert all(p["scoring"] == "loglik" and len(p["logliks"]) == p["n_choices"] for p in kept)
    assert all(p["extracted"] == "AB"[max(range(2), key=lambda k: p["logliks"][k])]
               for p in kept if p["n_choices"] == 2)
    assert {s.metric for s in scores} == {"accuracy_loglik"}
    with pytest.raises(HarnessError, match="unknown scoring mode 'beam'"):
        run(tiny, root, tmp_path / "x.jsonl", mode="beam")


def test_open_answer_benchmark(tiny, layouts, tmp_path: Path) -> None:
    root = layouts.docvqa(tmp_path / "data")
    out = tmp_path / "docvqa.jsonl"
    scores = run(tiny, root, out, name="docvqa")
    assert {s.metric for s in scores} == {"anls"}
    kept = lines(out)
    assert len(kept) == 2 and all(0.0 <= p["credit"] <= 1.0 for p in kept)


def test_unreadable_image_counts_as_wrong(tiny, layouts, tmp_path: Path) -> None:
    root = layouts.cvbench(tmp_path / "data")
    (root / "img/3D/depth/omni3d_4.png").write_bytes(b"not a png")
    out = tmp_path / "run.jsonl"
    scores = run(tiny, root, out)
    bad = [p for p in lines(out) if p["error"]]
    assert [p["idx"] for p in bad] == ["4"] and not bad[0]["correct"]
    assert "omni3d_4.png: unreadable image" in bad[0]["error"]
    assert next(s for s in scores if s.subset == "overall").n == 6  # still in the denominator
    unreadable = next(s for s in scores if s.metric == "unreadable")
    assert unreadable.value == pytest.approx(100 / 6) and unreadable.n == 6
    with pytest.raises(HarnessError, match="omni3d_4.png: unreadable image"):
        run(tiny, root, tmp_path / "strict.jsonl", strict_images=True)


def test_probe_rows_still_predict(tiny, tmp_path: Path) -> None:
    from harness.data.probe import write_probe

    model, tok, transform = tiny
    files = write_probe(tmp_path, seed=0, n_align=1, n_train=1, n_test=3, image_size=32)
    probe = BENCHMARKS.get("probe")
    rows = probe.load(files.root)
    predictions = runner.predict(model, tok, probe, rows, files.root, transform, batch_size=2)
    assert [p.idx for p in predictions] == ["0", "1", "2"]
    assert all(p.answer in "ABCD" for p in predictions)


def test_unreadable_prediction_lines_are_asked_again(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    good = runner.Prediction(idx="1", task="", type="", source="", answer="A", output="A",
                             extracted="A", correct=True, n_choices=2, credit=1.0)
    path.write_text(json.dumps(runner.asdict(good)) + "\n" + '{"idx": "2"}\n' + "not json\n"
                    + '{"idx": "3", "ta')
    assert list(runner._read_done(path)) == ["1"]
    assert path.read_text().endswith("not json\n")  # the torn tail is cut off
