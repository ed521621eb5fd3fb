"""Every registered benchmark reads its official layout (tiny folders written by the tests),
and a folder that is not in that layout fails with one line naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.data.probes import PROBE_BENCHMARKS
from harness.errors import HarnessError
from harness.eval.benchmarks import BENCHMARKS
from harness.eval.files import open_image
from harness.eval.prompts import LETTERS

NAMES = [n for n in BENCHMARKS.names() if n not in PROBE_BENCHMARKS]
"""The released benchmarks; the generated probes' files are tests/harness/data's."""


@pytest.mark.parametrize("name", NAMES)
def test_every_benchmark_loads_its_official_layout(name: str, layouts, tmp_path: Path) -> None:
    benchmark = BENCHMARKS.get(name)
    root = layouts.WRITERS[name](tmp_path)
    items = benchmark.items(root)
    assert items, name
    assert len({i.idx for i in items}) == len(items)  # predictions are joined on idx
    for item in items:
        if item.choices:
            assert item.answer in LETTERS[: len(item.choices)]
        else:
            assert item.references and all(isinstance(r, str) for r in item.references)
        assert open_image(item.image, root).size[0] > 0
        assert benchmark.prompt(item).strip()
    assert len(benchmark.dataset_hash(root)) == 12
    assert benchmark.fingerprint()["prompt_hash"] == benchmark.prompt_hash
    assert benchmark.category in ("General", "Knowledge", "OCR & Chart", "Vision-Centric")
    assert benchmark.layout and benchmark.metric
    for subset in benchmark.slim.values():
        assert set(i.idx for i in subset(items)) <= {i.idx for i in items}


@pytest.mark.parametrize("name", NAMES)
def test_an_empty_folder_names_the_missing_file(name: str, tmp_path: Path) -> None:
    with pytest.raises(HarnessError) as err:
        BENCHMARKS.get(name).items(tmp_path)
    message = str(err.value)
    assert str(tmp_path) in message and "expected" in message and "\n" not in message


def test_dataset_hash_follows_the_annotations_not_the_images(layouts, tmp_path: Path) -> None:
    bench = BENCHMARKS.get("cv-bench")
    root = layouts.cvbench(tmp_path)
    before = bench.dataset_hash(root)
    layouts.image(next(root.glob("img/2D/count/*.png")), "black")
    assert bench.dataset_hash(root) == before
    (root / "test.jsonl").write_text((root / "test.jsonl").read_text().replace("(B)", "(A)"))
    assert bench.dataset_hash(root) != before


def test_cvbench(layouts, tmp_path: Path) -> None:
    items = BENCHMARKS.get("cv-bench").items(layouts.cvbench(tmp_path))
    assert [(i.source, i.task, i.answer) for i in items[:2]] == [("ADE20K", "Count", "A"),
                                                                 ("ADE20K", "Count", "B")]
    assert items[0].image == "img/2D/count/ade20k_0.png"  # the released ``filename`` field


def test_cvbench_parquet_with_embedded_images(layouts, tmp_path: Path) -> None:
    layouts.parquet(tmp_path / "test_2d.parquet", [
        {"idx": 0, "type": "2D", "task": "Count", "source": "COCO", "choices": ["1", "2"],
         "prompt": "How many?", "answer": "(B)",
         "image": {"bytes": layouts.png_bytes(), "path": None}}])
    [item] = BENCHMARKS.get("cv-bench").items(tmp_path)
    assert isinstance(item.image, bytes) and item.answer == "B"


def test_cvbench_missing_image_is_a_layout_error(layouts, tmp_path: Path) -> None:
    root = layouts.cvbench(tmp_path)
    for path in root.glob("img/3D/*/*.png"):
        path.unlink()
    with pytest.raises(HarnessError, match=r"omni3d_4\.png: image not found \(and 1 more\)"):
        BENCHMARKS.get("cv-bench").items(root)


def test_cvbench_bad_answer_names_the_line(layouts, tmp_path: Path) -> None:
    root = layouts.cvbench(tmp_path)
    (root / "test.jsonl").write_text(
        (root / "test.jsonl").read_text().replace('"(A)"', '"(E)"', 1))
    with pytest.raises(HarnessError, match=r"test\.jsonl:1: answer '\(E\)' is not one of"):
        BENCHMARKS.get("cv-bench").items(root)


def test_mmvp_layout_pairs_and_options(layouts, tmp_path: Path) -> None:
    items = BENCHMARKS.get("mmvp").items(layouts.mmvp(tmp_path))
    assert [i.group for i in items] == ["0", "0", "1", "1", "2", "2"]  # (Index - 1) // 2
    assert items[0].choices == ("Open", "Closed") and items[1].answer == "B"
    assert items[3].image == "MMVP Images/4.jpg"


def test_mmvp_label_patch_flips_exactly_the_four_swapped_answers(layouts, tmp_path) -> None:
    root = layouts.mmvp_full(tmp_path)
    patched = {i.idx: i.answer for i in BENCHMARKS.get("mmvp").items(root)}
    original = {i.idx: i.answer for i in BENCHMARKS.get("mmvp-original").items(root)}
    assert len(patched) == 300
    assert {k for k in patched if patched[k] != original[k]} == {"99", "100", "279", "280"}
    assert [original[k] for k in ("99", "100", "279", "280")] == ["A", "B", "A", "B"]
    assert [patched[k] for k in ("99", "100", "279", "280")] == ["B", "A", "B", "A"]


def test_mmvp_patch_on_an_already_fixed_file_is_a_no_op(layouts, tmp_path: Path) -> None:
    root = layouts.mmvp_full(tmp_path)
    csv = root / "Questions.csv"
    lines = csv.read_text().splitlines()
    for index, fixed in ((99, "(b)"), (100, "(a)"), (279, "(b)"), (280, "(a)")):
        head = lines[index].rsplit(",", 1)[0]
        lines[index] = f"{head},{fixed}"
    csv.write_text("\n".join(lines) + "\n")
    patched = {i.idx: i.answer for i in BENCHMARKS.get("mmvp").items(root)}
    assert [patched[k] for k in ("99", "100", "279", "280")] == ["B", "A", "B", "A"]


def test_mmvp_patch_refuses_a_file_it_was_not_written_for(layouts, tmp_path: Path) -> None:
    root = layouts.mmvp_full(tmp_path)
    csv = root / "Questions.csv"
    csv.write_text(csv.read_text().replace(
        "99,Is the door in image 99 open or closed?,(a) Open (b) Closed,(a)",
        "99,Is the door in image 99 open or closed?,(a) Open (b) Closed,(c)"))
    with pytest.raises(HarnessError, match="Index 99 answer '\\(c\\)' is neither"):
        BENCHMARKS.get("mmvp").items(root)


def test_mmvp_wrong_columns(layouts, tmp_path: Path) -> None:
    root = layouts.mmvp(tmp_path)
    csv = root / "Questions.csv"
    csv.write_text(csv.read_text().replace("Correct Answer", "Answer"))
    with pytest.raises(HarnessError, match=r"Questions\.csv:2: missing column 'Correct Answer'"):
        BENCHMARKS.get("mmvp").items(root)


def test_realworldqa_options_from_the_question(layouts, tmp_path: Path) -> None:
    items = BENCHMARKS.get("realworldqa").items(layouts.realworldqa(tmp_path))
    assert items[0].choices == ("left", "right") and items[0].answer == "B"
    assert items[2].choices == () and items[2].answer == "3"


def test_realworldqa_parquet(layouts, tmp_path: Path) -> None:
    layouts.parquet(tmp_path / "data" / "test-00000-of-00002.parquet", [
        {"image": {"bytes": layouts.png_bytes(), "path": "0.webp"},
         "question": "Where?\nA. here\nB. there\nPlease answer directly.", "answer": "A"}])
    [item] = BENCHMARKS.get("realworldqa").items(tmp_path)
    assert item.choices == ("here", "there") and isinstance(item.image, bytes)


def test_mme_both_sub_layouts(layouts, tmp_path: Path) -> None:
    items = BENCHMARKS.get("mme").items(layouts.mme(tmp_path))
    assert len(items) == 8
    assert {i.category for i in items} == {"existence", "artwork"}
    art = [i for i in items if i.category == "artwork"]
    assert art[0].image == "artwork/images/0.jpg" and art[0].answer == "Yes"
    assert art[0].group == art[1].group != art[2].group  # two questions per image


def test_mme_bad_line(layouts, tmp_path: Path) -> None:
    root = layouts.mme(tmp_path)
    (root / "existence" / f"{0:012d}.txt").write_text("Is there a dog? Yes\n")
    with pytest.raises(HarnessError, match="000000000000.txt:1: expected 'question<TAB>Yes|No'"):
        BENCHMARKS.get("mme").items(root)


def test_mmbench_rotations_are_generated(layouts, tmp_path: Path) -> None:
    items = BENCHMARKS.get("mmbench").items(layouts.mmbench(tmp_path))
    first = [i for i in items if i.group == "0"]
    assert [i.idx for i in first] == ["0", "1000000", "2000000", "3000000"]
    # Each rotation moves every option up one letter; the answer follows its text.
    assert [i.choices[LETTERS.index(i.answer)] for i in first] == ["red"] * 4
    assert [i.answer for i in first] == ["A", "D", "C", "B"]
    second = [i for i in items if i.group == "1"]
    assert len(second) == 2 and second[0].meta["hint"] == ""  # "nan" hint is no hint
    assert first[0].meta["hint"] == "A plain square."


def test_mmbench_file_with_circular_copies(layouts, tmp_path: Path) -> None:
    items = BENCHMARKS.get("mmbench").items(layouts.mmbench(tmp_path, copies=True))
    assert [i.idx for i in items] == ["0", "1", "1000000"]  # taken as given, not re-rotated
    assert items[2].group == "0" and items[2].answer == "D" and items[2].image == items[0].image


def test_seed_keeps_image_questions_only(layouts, tmp_path: Path) -> None:
    items = BENCHMARKS.get("seed-image").items(layouts.seed(tmp_path))
    assert [i.idx for i in items] == ["101", "102"]
    assert items[1].category == "Instance Counting" and items[1].answer == "C"


def test_gqa(layouts, tmp_path: Path) -> None:
    items = BENCHMARKS.get("gqa").items(layouts.gqa(tmp_path))
    assert items[0].image == "images/n288870.jpg" and items[0].type == "verify"


def test_scienceqa_img_keeps_questions_with_an_image(layouts, tmp_path: Path) -> None:
    bench = BENCHMARKS.get("scienceqa-img")
    items = bench.items(layouts.scienceqa(tmp_path))
    assert [i.idx for i in items] == ["7", "9"] and items[0].answer == "B"
    assert bench.prompt(items[0]) == (
        "Mammals breathe air. Which is a mammal?\nA. shark\nB. whale\nC. trout\n"
        "Please answer directly with only the letter of the correct option and nothing else.")


def test_mmmu(layouts, tmp_path: Path) -> None:
    bench = BENCHMARKS.get("mmmu")
    items = bench.items(layouts.mmmu(tmp_path))
    assert [i.category for i in items] == ["Accounting", "Accounting", "Art"]
    assert items[0].choices == ("$10", "$20", "$30") and items[1].answer == "4"
    assert items[2].choices == ("Baroque", "Rococo's")
    assert bench.prompt(items[0]) == ("What is the total? Options:\nA. $10\nB. $20\nC. $30\n"
                                      "Answer with the option's letter from the given choices "
                                      "directly.")
    assert "<image" not in bench.prompt(items[1])


def test_mathvista(layouts, tmp_path: Path) -> None:
    items = BENCHMARKS.get("mathvista").items(layouts.mathvista(tmp_path))
    assert items[0].answer == "B" and items[0].choices == ("the circle", "the square")
    assert items[1].answer == "2.5" and not items[1].choices


def test_ai2d_official_release(layouts, tmp_path: Path) -> None:
    items = BENCHMARKS.get("ai2d").items(layouts.ai2d(tmp_path))
    assert [(i.question, i.answer) for i in items] == [("What eats grass?", "B"),
                                                       ("Which stage comes first?", "A")]


def test_ai2d_parquet(layouts, tmp_path: Path) -> None:
    layouts.parquet(tmp_path / "data" / "test-00000-of-00001.parquet", [
        {"question": "Which?", "options": ["a", "b", "c", "d"], "answer": "2",
         "image": {"bytes": layouts.png_bytes(), "path": None}}])
    [item] = BENCHMARKS.get("ai2d").items(tmp_path)
    assert item.answer == "C"


def test_chartqa_reads_both_splits(layouts, tmp_path: Path) -> None:
    items = BENCHMARKS.get("chartqa").items(layouts.chartqa(tmp_path))
    assert [i.source for i in items] == ["human", "human", "augmented"]


def test_textvqa_ocr_template(layouts, tmp_path: Path) -> None:
    plain, ocr = BENCHMARKS.get("textvqa"), BENCHMARKS.get("textvqa-ocr")
    items = ocr.items(layouts.textvqa(tmp_path))
    assert len(items[0].answers) == 10
    assert ocr.prompt(items[0]) == ("what is the brand of this camera?\nReference OCR tokens: "
                                    "nikon, d90\nAnswer the question using a single word or "
                                    "phrase.")
    assert plain.prompt(items[0]) == ("what is the brand of this camera?\nAnswer the question "
                                      "using a single word or phrase.")
    assert plain.prompt_hash != ocr.prompt_hash


def test_docvqa(layouts, tmp_path: Path) -> None:
    items = BENCHMARKS.get("docvqa").items(layouts.docvqa(tmp_path))
    assert items[0].answers == ("March 3, 1999", "3/3/1999")
    assert items[0].image == "val/documents/p.png"


def test_ocrbench(layouts, tmp_path: Path) -> None:
    items = BENCHMARKS.get("ocrbench").items(layouts.ocrbench(tmp_path))
    assert items[1].source == "HME100k" and items[1].image == "OCRBench_Images/HME100k/2.png"


def test_not_json_names_the_file(layouts, tmp_path: Path) -> None:
    root = layouts.gqa(tmp_path)
    (root / "testdev_balanced_questions.json").write_text("{not json")
    with pytest.raises(HarnessError, match="testdev_balanced_questions.json: not JSON"):
        BENCHMARKS.get("gqa").items(root)


def test_missing_field_names_the_record(layouts, tmp_path: Path) -> None:
    root = layouts.docvqa(tmp_path)
    path = root / "val" / "val_v1.0_withQT.json"
    data = json.loads(path.read_text())
    del data["data"][1]["answers"]
    path.write_text(json.dumps(data))
    with pytest.raises(HarnessError, match=r"data\[1\]: missing field 'answers'"):
        BENCHMARKS.get("docvqa").items(root)
