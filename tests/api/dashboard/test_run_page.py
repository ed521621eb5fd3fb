"""The run page's scoring-protocol table, rendered from plain data."""

from __future__ import annotations

import dataclasses

from api.dashboard.pages.runs import render_run
from harness.eval.protocols import Reading, Sensitivity
from harness.store.protocols import RunProtocols

RUN = {"run_key": "k1", "encoder_id": "enc", "smoke": False, "recipe": "frozen", "llm": "l",
       "connector": "c", "preset": "p", "seed": 0, "status": "done", "error": None,
       "finished_at": None, "wall_seconds": 1.0, "config": {}, "config_hash": "k1",
       "train": {}, "run_dir": "/runs/k1", "record_hash": "h", "encoder": None, "tiny": False,
       "started_at": None, "host": "", "job_id": "", "code_version": "", "scores": [],
       "prediction_files": []}


def protocols() -> dict:
    not_run = Reading(None, note="not run (harness eval --mode loglik)")
    return dataclasses.asdict(RunProtocols("k1", [
        Sensitivity("mmvp", False, "pair_accuracy", {
            "strict": Reading(20.0, 150), "rule": Reading(54.25, 150),
            "loglik": Reading(60.0, 150)}, 40.0),
        Sensitivity("mmvp", True, "pair_accuracy", {
            "strict": Reading(10.0, 150), "rule": Reading(12.0, 150), "loglik": not_run}, 2.0),
        Sensitivity("gqa", False, "accuracy", {
            "strict": Reading(None, note="not applicable: no multiple-choice items"),
            "rule": Reading(61.0, 900), "loglik": not_run}, None),
    ], ["predictions/x.jsonl: <not> registered"]))


def rows(page: str) -> list[list[str]]:
    table = page[page.index('id="protocols"'):]
    body = table[table.index("<tbody>"):table.index("</tbody>")]
    return [[cell.split(">", 1)[1].split("</td>", 1)[0]
             for cell in row.split("<td")[1:]] for row in body.split("<tr>")[1:]]


def test_protocol_table_per_benchmark_with_dashes_and_spread() -> None:
    page = render_run(RUN, [], protocols())
    assert "<h3>Scoring protocol</h3>" in page
    assert "<th class=\"sortable num\">strict letters</th>" in page
    assert rows(page) == [
        ["mmvp", "pair_accuracy", "20.0", "54.2", "60.0", "40.0"],
        ["mmvp (blind)", "pair_accuracy", "10.0", "12.0", "—", "2.0"],
        ["gqa", "accuracy", "—", "61.0", "—", "—"],
    ]
    # Why a cell is empty is one hover away, and file names are escaped.
    assert 'title="not applicable: no multiple-choice items">—' in page
    assert "Left out: predictions/x.jsonl: &lt;not&gt; registered" in page


def test_protocol_table_says_why_it_is_missing() -> None:
    page = render_run(RUN, [], {"error": "run k1 was posted, not ingested from a folder",
                                "benchmarks": [], "skipped": []})
    assert "run k1 was posted, not ingested from a folder" in page
    assert 'id="protocols"' not in page
    empty = render_run(RUN, [], {**protocols(), "benchmarks": [], "skipped": []})
    assert "No predictions of a registered benchmark" in empty


def test_the_training_section_draws_the_loss_curve_and_lists_the_rest() -> None:
    train = {"finetune": {"steps": 2, "final_loss": 1.5, "losses": [2.0, 1.5]}}
    page = render_run({**RUN, "train": train}, [], protocols())
    assert '<div id="loss-curves"></div>' in page and 'data-figure="loss-curves"' in page
    facts = page[page.index("<h3>Training</h3>"):page.index("<h3>Resolved config</h3>")]
    assert "final_loss" in facts and "losses" not in facts.replace("loss-curves", "")
    assert 'id="loss-curves"' not in render_run(RUN, [], protocols())


def test_an_external_scorer_is_named_beside_the_harness() -> None:
    score = {"benchmark": "mmstar", "category": "", "metric": "average", "subset": "overall",
             "value": 0.41, "n": 1500, "chance": None, "benchmark_version": "0.1",
             "prompt_hash": "abc", "label_patch": "", "dataset_hash": ""}
    page = render_run({**RUN, "scores": [
        {**score, "kind": "external", "scorer": "lmms-eval 0.7.3"},
        {**score, "benchmark": "mmvp", "kind": "measured", "scorer": "harness"}]}, [])
    table = page[page.index('id="scores"'):page.index("</table>", page.index('id="scores"'))]
    assert "<td>lmms-eval 0.7.3 (external)</td>" in table
    assert "<td>harness</td>" in table


def test_the_two_scorers_are_shown_side_by_side_with_their_disagreements() -> None:
    compared = [{"benchmark": "cv-bench", "task": "cv_bench", "n": 6, "harness": 48.0,
                 "lmms_eval": 61.5, "matched": None, "harness_matched": 50.0,
                 "lmms_eval_matched": 66.7, "disagree": 1,
                 "note": "lmms-eval averages all items",
                 "items": [{"idx": "3", "harness": {"correct": False, "output": "(C)"},
                            "lmms_eval": {"correct": True, "output": "['B']"}}]},
                {"benchmark": "mme", "task": "mme", "harness": 1210.0, "lmms_eval": 1302.5,
                 "matched": "two questions share an id", "items": [], "disagree": None,
                 "note": "", "n": None, "harness_matched": None, "lmms_eval_matched": None}]
    page = render_run(RUN, [], None, compared)
    table = page[page.index('id="scorers"'):page.index("</table>", page.index('id="scorers"'))]
    assert "<td>cv_bench</td>" in table and ">66.7<" in table and ">50.0<" in table
    assert ">61.5<" in table and ">1302.5<" in table
    assert '<td colspan="4">two questions share an id</td>' in table
    assert "cv-bench: 1 items where they disagree" in page
    assert "<code>(C)</code>" in page and "<code>[&#39;B&#39;]</code>" in page
    unreadable = render_run(RUN, [], None, "lmms-eval's files could not be compared: bad")
    assert "could not be compared: bad" in unreadable
    assert 'id="scorers"' not in render_run(RUN, [], None)
