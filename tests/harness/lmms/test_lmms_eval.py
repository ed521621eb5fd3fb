"""A harness-trained smoke run scored by the real lmms-eval evaluator, on local tasks this test
writes as lmms-eval task YAMLs (no hub access): one answered by generation, one multiple choice
answered through ``loglikelihood``. Its results are read back as external scores, stored beside
the run's own and kept out of the setting's averages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from harness.errors import HarnessError
from harness.lmms.evaluate import (
    evaluate_with_lmms_eval,
    load_lmms_eval_tasks,
    require_lmms_eval,
)
from harness.lmms.results import read_results
from harness.model.chat import prompt_ids
from harness.model.llm import IMAGE_TOKEN
from harness.model.mllm import IGNORE_INDEX
from harness.record import read_record
from harness.store import Store
from harness.sweep.execute import run_transform
from harness.sweep.model import load_model
from harness.sweep.plan import load_run

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 220)}
UTILS = '''
from PIL import Image


def doc_to_visual(doc):
    return [Image.open(doc["image"]).convert("RGB")]


def doc_to_text(doc):
    options = "\\n".join(f"{l}. {c}" for l, c in zip("ABC", doc["choices"]))
    return f"{doc['question']}\\n{options}\\nAnswer with the option's letter."


def target_index(doc):
    return "ABC".index(doc["answer"])


def process_results(doc, results):
    return {"accuracy": float(results[0].strip().upper().startswith(doc["answer"]))}
'''
COMMON = """dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
doc_to_visual: !function utils.doc_to_visual
doc_to_text: !function utils.doc_to_text
metadata:
  version: 1
"""
ANSWER_BY_GENERATION = """output_type: generate_until
doc_to_target: answer
generation_kwargs:
  max_new_tokens: 4
process_results: !function utils.process_results
metric_list:
  - metric: accuracy
    aggregation: mean
    higher_is_better: true
"""
GENERATE = "task: colours_generate\n" + ANSWER_BY_GENERATION
CHOICE = """task: colours_choice
output_type: multiple_choice
doc_to_choice: ["A", "B", "C"]
doc_to_target: !function utils.target_index
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
"""


@pytest.fixture(scope="module")
def tasks(tmp_path_factory) -> Path:
    """Two lmms-eval tasks over six local images, as YAML files lmms-eval includes."""
    folder = tmp_path_factory.mktemp("tasks")
    names = list(COLOURS)
    rows = []
    for i in range(6):
        image = folder / f"{i}.png"
        Image.new("RGB", (32, 32), COLOURS[names[i % 3]]).save(image)
        rows.append({"question_id": f"q{i}", "image": str(image), "choices": names,
                     "question": "Which colour fills the picture?", "answer": "ABC"[i % 3]})
    data = folder / "test.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "utils.py").write_text(UTILS)
    common = COMMON.format(data=data)
    (folder / "colours_generate.yaml").write_text(GENERATE + common)
    (folder / "colours_choice.yaml").write_text(CHOICE + common)
    return folder


@pytest.fixture(scope="module")
def scored(finished: Path, tasks: Path, tmp_path_factory) -> tuple[dict, str]:
    require_lmms_eval()
    db = f"sqlite:///{tmp_path_factory.mktemp('db') / 'harness.db'}"
    report = evaluate_with_lmms_eval(
        finished, load_lmms_eval_tasks(["colours_generate", "colours_choice"], tasks), db=db)
    return report, db


def test_the_stored_scores_are_what_lmms_eval_wrote(scored, finished: Path) -> None:
    report, db = scored
    written = json.loads(Path(report["results"]).read_text())
    assert written["results"]["colours_choice"]["acc,none"] == pytest.approx(
        next(s["value"] for s in report["scores"] if s["metric"] == "acc"))
    record = read_record(finished)
    external = {(s.benchmark, s.metric): s for s in record.scores if s.kind == "external"}
    assert set(external) == {("lmms-eval:colours_generate", "accuracy"),
                             ("lmms-eval:colours_choice", "acc")}
    for (benchmark, metric), score in external.items():
        task = benchmark.removeprefix("lmms-eval:")
        assert score.value == written["results"][task][f"{metric},none"]
        assert score.n == written["n-samples"][task]["effective"] == 6
        assert score.scorer == f"lmms-eval {report['lmms_eval']}"
        assert len(score.prompt_hash) == 16 and score.benchmark_version == "1"
    # The run's own scores are still there, and alone in its setting's numbers.
    assert any(s.kind == "measured" and s.benchmark == "probe" for s in record.scores)
    store = Store(db)
    (setting,) = store.settings()
    assert set(setting.benchmarks) == {"probe"}
    assert {r["benchmark"] for r in store.leaderboard(subset="overall")} == {"probe"}
    rows, _ = store.scores(run_key=record.run_key)
    stored = {(s["benchmark"], s["kind"], s["scorer"]) for s in rows}
    assert ("lmms-eval:colours_choice", "external", f"lmms-eval {report['lmms_eval']}") in stored
    detail = store.run(record.run_key)  # what the run page shows
    assert {s["kind"] for s in detail["scores"]} == {"measured", "external"}


def test_multiple_choice_reaches_the_model_through_loglikelihood(scored, finished: Path,
                                                                  tasks: Path) -> None:
    """Each option's value lmms-eval kept is the continuation's loss as the training loss
    computes it (an independent path through the model), and its pick is the smallest."""
    report, _ = scored
    samples = next(Path(report["results"]).parent.glob("*_samples_colours_choice.jsonl"))
    first = json.loads(samples.read_text().splitlines()[0])
    run = load_run(finished)
    model, tokenizer, _ = load_model(run, "cpu")
    doc = json.loads((tasks / "test.jsonl").read_text().splitlines()[0])
    options = "\n".join(f"{letter}. {c}" for letter, c in zip("ABC", doc["choices"],
                                                              strict=True))
    text = f"{IMAGE_TOKEN}\n{doc['question']}\n{options}\nAnswer with the option's letter."
    ids = prompt_ids(text, tokenizer, num_image_tokens=model.num_image_tokens,
                     system=run.config.llm.system_prompt)
    pixels = run_transform(model.encoder, run.config.image_aspect)(
        Image.open(doc["image"]).convert("RGB")).unsqueeze(0)
    losses = []
    with torch.no_grad():
        for letter in "ABC":
            # lmms-eval puts its target_delimiter (" ") before each choice.
            target = tokenizer.encode(" " + letter, add_special_tokens=False)
            input_ids = torch.tensor([ids + target])
            labels = torch.tensor([[IGNORE_INDEX] * len(ids) + target])
            losses.append(model(input_ids, torch.ones_like(input_ids), pixels, labels).item())
    kept = [float(resp[0]) for resp in first["filtered_resps"]]  # the log writes text
    assert kept == pytest.approx(losses, rel=1e-4)
    picked = min(range(3), key=losses.__getitem__)
    assert first["acc"] == float(picked == "ABC".index(doc["answer"]))


def test_lmms_eval_runs_the_harness_model_from_its_own_cli(finished: Path, tasks: Path,
                                                            tmp_path: Path) -> None:
    """``python -m lmms_eval --model harness``: found through the lmms_eval.models entry
    point, as the README shows."""
    out = subprocess.run(
        [sys.executable, "-m", "lmms_eval", "--model", "harness", "--model_args",
         f"run={finished}", "--tasks", "colours_choice", "--include_path", str(tasks),
         "--output_path", str(tmp_path), "--limit", "3"],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    (results,) = tmp_path.rglob("*_results.json")
    assert read_results(results).tasks[0].n == 3


def test_bad_input_is_one_line(finished: Path, tasks: Path, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(HarnessError, match="unknown lmms-eval task 'no-such-task'"):
        load_lmms_eval_tasks(["no-such-task"], tasks)
    hub = tmp_path / "hub"
    hub.mkdir()
    (hub / "hub_task.yaml").write_text(
        "task: hub_task\ndataset_path: harness-tests/no-such-dataset\ntest_split: test\n"
        "output_type: generate_until\ndoc_to_text: question\ndoc_to_target: answer\n"
        "metric_list:\n  - metric: exact_match\n")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(HarnessError, match=r"lmms-eval task 'hub_task': offline \(HF_HUB_OF"):
        load_lmms_eval_tasks(["hub_task"], hub)
    broken = tmp_path / "results.json"
    broken.write_text(json.dumps({"results": {}, "configs": {}, "versions": {}}))
    with pytest.raises(HarnessError, match="no 'n-samples' field"):
        read_results(broken)
    broken.write_text(json.dumps({"results": {"t": {"acc,none": "high"}}, "configs": {"t": {}},
                                  "versions": {}, "n-samples": {}, "lmms_eval_version": "x"}))
    with pytest.raises(HarnessError, match=r"results\['t'\]\['acc,none'\] is 'high'"):
        read_results(broken)
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(HarnessError, match=r"pip install 'encoder-harness\[lmms-eval\]'"):
        require_lmms_eval()


def test_import_lmms_eval_adds_an_external_models_reference_rows(scored, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from harness.cli.app import app

    report, _ = scored
    db = f"sqlite:///{tmp_path / 'ref.db'}"
    args = ["import-lmms-eval", report["results"], "--model", "LLaVA-1.5-7B", "--db", db]
    first, second = CliRunner().invoke(app, args), CliRunner().invoke(app, args)
    assert first.exit_code == 0 and "2 added" in first.output, first.output
    assert "2 unchanged" in second.output
    written = json.loads(Path(report["results"]).read_text())["results"]
    rows = {r["metric"]: r for r in Store(db).published()}
    assert set(rows) == {"lmms-eval:colours_choice acc", "lmms-eval:colours_generate accuracy"}
    choice = rows["lmms-eval:colours_choice acc"]
    assert choice["value"] == written["colours_choice"]["acc,none"]
    assert (choice["subject"], choice["subject_kind"]) == ("LLaVA-1.5-7B", "external model")
    assert Store(db).settings() == []  # reference rows are never a measured setting
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"results": {"t": {}}, "configs": {"t": {}}}))
    bad = CliRunner().invoke(app, ["import-lmms-eval", str(broken), "--model", "m", "--db",
                                   f"sqlite:///{tmp_path / 'other.db'}"])
    assert isinstance(bad.exception, HarnessError)  # main() prints it as one line, exit 2
    assert "no 'versions' field" in str(bad.exception)
    assert Store(f"sqlite:///{tmp_path / 'other.db'}").published() == []


CVBENCH_UTILS = '''
from pathlib import Path

from PIL import Image

ROOT = Path({root!r})


def doc_to_visual(doc):
    return [Image.open(ROOT / doc["filename"]).convert("RGB")]


def doc_to_text(doc):
    return doc["prompt"] + "\\nAnswer with the option's letter from the given choices directly."


def process_results(doc, results):
    # A rule more lenient than the harness's on two items, so the scorers disagree there.
    said = results[0].strip().upper().lstrip("(")[:1]
    return {{"accuracy": float(said == doc["answer"].strip("()") or doc["idx"] in (1, 2))}}
'''
CVBENCH_TASK = ("task: cvbench_local\n" + ANSWER_BY_GENERATION + COMMON
                + "  harness_benchmark: cv-bench\n  harness_id_field: idx\n"
                + "  harness_metric: accuracy\n")


def test_the_two_scorers_are_compared_item_by_item(finished: Path, tmp_path: Path) -> None:
    """CV-Bench items scored by the harness and, through a local task over the same release
    files, by lmms-eval: matched by the question id the task's metadata names."""
    from harness.data import layouts
    from harness.lmms.compare import compare_scorers

    release = layouts.cvbench(tmp_path / "cv-bench")
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "utils.py").write_text(CVBENCH_UTILS.format(root=str(release)))
    # The task reads the items in reverse order: document i holds question 5 - i, so only the
    # id mapping (not the position) can pair them with the harness's.
    rows = (release / "test.jsonl").read_text().splitlines()
    (tasks / "test.jsonl").write_text("\n".join(reversed(rows)) + "\n")
    (tasks / "cvbench_local.yaml").write_text(CVBENCH_TASK.format(data=tasks / "test.jsonl"))
    from typer.testing import CliRunner

    from harness.cli.app import app

    bad = CliRunner().invoke(app, ["eval", "--checkpoint", str(finished), "--benchmarks",
                                   "cv-bench", "--data-dir", str(release), "--lmms-eval-tasks",
                                   "no_such_task", "--lmms-eval-include", str(tasks)])
    assert "unknown lmms-eval task 'no_such_task'" in str(bad.exception)
    assert not (finished / "eval" / "cv-bench.jsonl").exists()  # refused before scoring
    both = CliRunner().invoke(app, ["eval", "--checkpoint", str(finished), "--benchmarks",
                                    "cv-bench", "--data-dir", str(release), "--lmms-eval-tasks",
                                    "cvbench_local", "--lmms-eval-include", str(tasks),
                                    "--format", "json"])
    assert both.exit_code == 0, both.output
    harness_eval = json.loads(both.stdout)["harness"]
    (compared,) = [c for c in compare_scorers(finished) if c["task"] == "cvbench_local"]
    ours = {json.loads(line)["idx"]: json.loads(line)["correct"]
            for line in (finished / "eval" / "cv-bench.jsonl").read_text().splitlines()}
    samples = next(finished.rglob("*_samples_cvbench_local.jsonl")).read_text().splitlines()
    theirs = {str(5 - json.loads(s)["doc_id"]): json.loads(s)["accuracy"] == 1.0
              for s in samples}
    assert (compared["benchmark"], compared["task"], compared["n"]) == ("cv-bench",
                                                                         "cvbench_local", 6)
    assert compared["harness_matched"] == pytest.approx(100 * sum(ours.values()) / 6)
    assert compared["lmms_eval_matched"] == pytest.approx(100 * sum(theirs.values()) / 6)
    # The headlines: harness eval's cv-bench score, and what lmms-eval wrote, on 0-100.
    assert compared["harness"] == harness_eval["benchmarks"][0]["value"]
    written = next(json.loads(f.read_text()) for f in finished.rglob("*_results.json")
                   if "cvbench_local" in f.read_text())
    assert compared["lmms_eval"] == pytest.approx(
        100 * written["results"]["cvbench_local"]["accuracy,none"])
    differ = {idx for idx in ours if ours[idx] != theirs[idx]}
    assert differ, "the lenient rule makes the scorers disagree somewhere"
    assert {item["idx"] for item in compared["items"]} == differ
    assert compared["disagree"] == len(differ)


def test_the_mappings_read_each_tasks_samples_as_the_harness_counts_right() -> None:
    from harness.lmms.compare import _right, mapping_for

    assert mapping_for("cv_bench", {}).metric == "cv_bench_acc"  # a record per item
    assert _right({"id": 3, "is_correct": True}) is True
    assert (_right(1.0), _right(2 / 3), _right("right"), _right(None)) == (True, False, None,
                                                                             None)
    declared = mapping_for("mine", {"metadata": {"harness_benchmark": "mmvp",
                                                 "harness_id_field": "Index"}})
    assert (declared.benchmark, declared.id_field, declared.metric) == ("mmvp", "Index",
                                                                        "accuracy")
    assert mapping_for("mine", {"metadata": {"version": 1}}) is None
    with pytest.raises(HarnessError, match="'harness_id_field' is missing"):
        mapping_for("mine", {"metadata": {"harness_benchmark": "mmvp"}})


def test_answers_in_batches_are_the_answers_one_by_one(finished: Path, tasks: Path) -> None:
    """``generate_until`` pads a batch on the left; greedy answers do not change with it."""
    from lmms_eval.api.instance import Instance

    from harness.lmms.model import HarnessModel

    docs = [json.loads(line) for line in (tasks / "test.jsonl").read_text().splitlines()]
    utils = {}
    exec((tasks / "utils.py").read_text(), utils)  # the task's own helpers, as lmms-eval loads

    def requests() -> list[Instance]:
        # Prompts of different lengths (so the batch pads), one without an image.
        return [Instance("generate_until", (utils["doc_to_text"](doc) + " ?" * i,
                                            {"max_new_tokens": 5, "until": ["\n"]},
                                            None if i == 2 else utils["doc_to_visual"], i,
                                            "colours", "test"), idx=0,
                         metadata={"task": "colours", "doc_id": i, "repeats": 1})
                for i, doc in enumerate(docs[:5])]

    answers = []
    for batch_size in (1, 4):
        model = HarnessModel(run=str(finished), batch_size=batch_size)
        model.task_dict = {"colours": {"test": docs}}
        # The smoke run answers every prompt alike; the same noise in both models' weights
        # makes each answer depend on its prompt, so a padding mistake would show.
        noise = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for weight in model.model.llm.parameters():
                weight.add_(torch.randn(weight.shape, generator=noise) * 0.5)
        answers.append(model.generate_until(requests()))
    assert answers[0] == answers[1] and len(answers[0]) == 5
