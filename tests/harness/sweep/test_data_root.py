"""Sweeps on real data: training sources and benchmarks read from one data root in their
release layouts, checked once at plan time (one-line errors, nothing run), fingerprinted into
run keys, and trained and scored through the same evaluation step as ``harness eval``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from harness.data import layouts
from harness.errors import HarnessError
from harness.preset import load_preset_file
from harness.recipe import RECIPES
from harness.record import read_record
from harness.sweep import data_check
from harness.sweep.job import RunJob
from harness.sweep.plan import plan_sweep

from .conftest import MINI_PRESET

# The mini preset trained on LLaVA-1.5's two sources and scored on two benchmarks.
REAL_PRESET = MINI_PRESET.replace("""[data]
seed = 1
n_align = 8
n_train = 12
n_test = 9
image_size = 64
""", """benchmarks = ["mmvp", "cv-bench"]
[sources]
align = "llava-558k"
finetune = "llava-665k"
""")


VICUNA_REVISION = "e47d451158f817a9cea20bb0f73b854c9832a85d"
"""The commit the paper presets pin Vicuna-1.5-7B to."""


def conversation(i: int, image: str, answer: str) -> dict:
    return {"id": str(i), "image": image, "conversations": [
        {"from": "human", "value": "<image>\nWhat colour is the square?"},
        {"from": "gpt", "value": answer}]}


def data_root(root: Path, entries: int = 12) -> Path:
    """LLaVA-Pretrain and the 665K mixture in their release layouts, and two benchmarks."""
    colours = ["red", "green", "blue"]
    pretrain = root / "llava-558k"
    rows = []
    for i in range(entries):
        layouts.image(pretrain / "images" / "00000" / f"{i:09d}.jpg", colours[i % 3])
        rows.append(conversation(i, f"00000/{i:09d}.jpg", colours[i % 3]))
    (pretrain / "blip_laion_cc_sbu_558k.json").write_text(json.dumps(rows))
    mix = root / "llava-665k"
    rows = []
    for i in range(entries):
        layouts.image(mix / "coco" / "train2017" / f"{i:012d}.jpg", colours[i % 3])
        rows.append(conversation(i, f"coco/train2017/{i:012d}.jpg", colours[i % 3]))
    for folder in ("gqa/images", "ocr_vqa/images", "textvqa/train_images", "vg/VG_100K",
                   "vg/VG_100K_2"):
        (mix / folder).mkdir(parents=True, exist_ok=True)
    (mix / "llava_v1_5_mix665k.json").write_text(json.dumps(rows))
    layouts.mmvp(root / "mmvp")
    layouts.cvbench(root / "cv-bench")
    return root


@pytest.fixture
def real_preset(tmp_path: Path) -> Path:
    path = tmp_path / "real.toml"
    path.write_text(REAL_PRESET)
    return path


def plan(root: Path, preset: Path, data: Path | None, recipes=("frozen",)):
    return plan_sweep(["clip-vit-l14-336.openai"], [RECIPES.get(r) for r in recipes],
                      load_preset_file(preset), [0], root, data_root=data)


def test_plan_fingerprints_sources_and_lists_benchmark_hashes(tmp_path: Path,
                                                              real_preset: Path) -> None:
    data = data_root(tmp_path / "data")
    [run] = plan(tmp_path / "runs", real_preset, data)
    assert run.config.sources["align"]["name"] == "llava-558k"
    assert run.config.sources["finetune"]["samples"] == "all"
    summary = run.summary()
    assert [b["name"] for b in summary["benchmarks"]] == ["mmvp", "cv-bench"]
    assert all(len(b["dataset_hash"]) == 12 for b in summary["benchmarks"])
    # New annotations, new key; the same data planned again, the same key.
    assert plan(tmp_path / "runs", real_preset, data)[0].key == run.key
    (data / "llava-665k" / "llava_v1_5_mix665k.json").write_text(
        json.dumps([conversation(0, "coco/train2017/000000000000.jpg", "red")] * 12))
    assert plan(tmp_path / "runs", real_preset, data)[0].key != run.key


def test_plan_time_refusals_are_one_line(tmp_path: Path, real_preset: Path) -> None:
    with pytest.raises(HarnessError, match="set the data root with --data-root DIR"):
        plan(tmp_path / "runs", real_preset, None)
    data = data_root(tmp_path / "data", entries=6)
    cambrian = RECIPES.get("cambrian-2stage-frozen-1.2m")
    with pytest.raises(HarnessError, match=r"stage 'align' asks for 1,200,000 samples but data "
                                           r"source 'llava-558k' has 6"):
        plan_sweep(["clip-vit-l14-336.openai"], [cambrian], load_preset_file(real_preset),
                   [0], tmp_path / "runs", data_root=data)
    (data / "mmvp" / "MMVP Images" / "1.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(HarnessError, match=r"benchmark 'mmvp': image .*1.jpg does not decode"):
        plan(tmp_path / "runs2", real_preset, data)
    for path in (data / "mmvp").rglob("*"):
        if path.is_file():
            path.unlink()
    with pytest.raises(HarnessError) as exc:
        plan(tmp_path / "runs3", real_preset, data)
    assert "\n" not in str(exc.value) and "mmvp" in str(exc.value)


def test_a_warm_plan_hashes_nothing_again(tmp_path: Path, real_preset: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    data = data_root(tmp_path / "data")
    plan(tmp_path / "runs", real_preset, data)
    hashed: list[Path] = []
    real_hash = data_check.annotation_hash
    monkeypatch.setattr(data_check, "annotation_hash", lambda p: hashed.append(p) or
                        real_hash(p))
    plan(tmp_path / "runs", real_preset, data, recipes=("frozen", "unfrozen"))
    assert hashed == []
    Image.new("RGB", (8, 8)).save(data / "llava-558k" / "images" / "00000" / "x.jpg")
    (data / "llava-558k" / "blip_laion_cc_sbu_558k.json").write_text(json.dumps(
        [conversation(0, "00000/x.jpg", "black")] * 12))
    plan(tmp_path / "runs", real_preset, data)
    assert [p.name for p in hashed] == ["blip_laion_cc_sbu_558k.json"]


def test_a_run_trains_on_the_sources_and_scores_the_data_root_benchmarks(
        tmp_path: Path, real_preset: Path) -> None:
    data = data_root(tmp_path / "data")
    [run] = plan(tmp_path / "runs", real_preset, data)
    assert RunJob(checkpoint_every_s=0).run_one(run) == "done"
    record = read_record(Path(run.run_dir))
    assert record.status == "done", record.error
    overall = {(s.benchmark, s.metric) for s in record.scores if s.subset == "overall"}
    assert {("mmvp", "pair_accuracy"), ("cv-bench", "accuracy")} <= overall
    pair = next(s for s in record.scores if (s.metric, s.subset) == ("pair_accuracy", "overall"))
    assert pair.ci_low is not None and pair.ci_low <= pair.ci_high  # 3 pairs: an interval
    assert (pair.ci_resamples, pair.ci_seed) == (2000, 0) and pair.scorer.startswith("harness")
    assert {s.dataset_hash for s in record.scores if s.benchmark == "mmvp"} == {
        run.dataset_hashes["mmvp"]}
    assert record.train["feature_cache"]["used"] is False
    assert record.config["sources"]["align"]["name"] == "llava-558k"


def harness(*args: str) -> subprocess.CompletedProcess:
    """The console script as a user runs it (errors: one line, exit 2)."""
    return subprocess.run([sys.executable, "-c", "from harness.cli.app import main; main()",
                           *args], capture_output=True, text=True, timeout=300)


def test_cli_dry_run_lists_sources_and_hashes_and_refuses_in_one_line(
        tmp_path: Path, real_preset: Path) -> None:
    data = data_root(tmp_path / "data")
    args = ["sweep", "--encoders", "clip-vit-l14-336.openai", "--preset", str(real_preset),
            "--recipes", "frozen", "--root", str(tmp_path / "runs"), "--dry-run",
            "--format", "json"]
    done = harness(*args, "--data-root", str(data))
    assert done.returncode == 0, done.stderr
    [run] = json.loads(done.stdout)["runs"]
    assert run["sources"]["align"]["annotation_hash"] and run["benchmarks"][0]["dataset_hash"]
    missing = harness(*args, "--data-root", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    assert "no such folder" in missing.stderr and not (tmp_path / "runs" / "runs").exists()
    check = ["data", "check", "llava-665k,vision-centric", "--data-root", str(data), "--root",
             str(tmp_path / "runs")]
    checked = harness(*check)
    assert checked.returncode == 2 and "benchmark 'realworldqa': no folder" in checked.stderr
    layouts.realworldqa(data / "realworldqa")
    checked = harness(*check)
    assert checked.returncode == 0, checked.stderr
    assert "llava-665k: 12 entries" in checked.stdout and "mmvp: 6 items" in checked.stdout


def test_image_aspect_joins_the_key_only_when_not_the_old_resize(tmp_path: Path,
                                                                 real_preset: Path) -> None:
    data = data_root(tmp_path / "data")
    [resized] = plan(tmp_path / "runs", real_preset, data)
    padded_preset = tmp_path / "padded.toml"
    padded_preset.write_text(REAL_PRESET.replace('llm = "tiny-llama"\n',
                                                 'llm = "tiny-llama"\nimage_aspect = "pad"\n'))
    [padded] = plan(tmp_path / "runs", padded_preset, data)
    assert padded.config.image_aspect == "pad" and padded.key != resized.key
    assert resized.config.image_aspect == "resize"
    assert RunJob(checkpoint_every_s=0).run_one(padded) == "done"
    assert read_record(Path(padded.run_dir)).config["image_aspect"] == "pad"


def test_smoke_keys_are_those_planned_before_sources_and_aspects_existed(
        tmp_path: Path) -> None:
    from harness.preset import PRESETS

    smoke = PRESETS.get("smoke")
    runs = plan_sweep(["clip-vit-l14-336.openai", "dinov2-vit-l14-518.lvd142m"],
                      [RECIPES.get("frozen"), RECIPES.get("unfrozen")], smoke, [0], tmp_path)
    # The keys `harness sweep --encoders all --preset smoke --dry-run` gave at 66b36c4.
    assert [r.key for r in runs] == ["543e5a94a86e", "46954695d720", "d0d642b1bbb4",
                                     "4f408fdc1582"]


def test_the_paper_presets_plan_against_release_layouts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    from harness.preset import PRESETS

    data = data_root(tmp_path / "data")
    llava = PRESETS.get("llava-1.5")
    clip = ["clip-vit-l14-336.openai"]
    # Offline with nothing cached: the plan says which weights are missing and how to get them.
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(HarnessError, match=r"encoder 'clip-vit-l14-336.openai': weights not in"
                                           r" the Hugging Face cache \(timm/vit_large_patch14_"
                                           r"clip_336.openai\) and HF_HUB_OFFLINE=1"):
        plan_sweep(clip, [RECIPES.get("frozen")], llava, [0], tmp_path / "runs",
                   data_root=data)
    for repo, revision in (("timm/vit_large_patch14_clip_336.openai", "0a1b"),
                           ("lmsys/vicuna-7b-v1.5", VICUNA_REVISION)):
        if repo.startswith("lmsys"):
            with pytest.raises(HarnessError, match="LLM 'lmsys/vicuna-7b-v1.5' at revision "
                                                   f"{VICUNA_REVISION}: not in the Hugging "
                                                   "Face cache"):
                plan_sweep(clip, [RECIPES.get("frozen")], llava, [0], tmp_path / "runs",
                           data_root=data)
        (tmp_path / "hub" / f"models--{repo.replace('/', '--')}" / "snapshots" / revision
         ).mkdir(parents=True)
    for writer, folder in ((layouts.gqa, "gqa"), (layouts.scienceqa, "scienceqa-img"),
                           (layouts.textvqa, "textvqa"), (layouts.mme, "mme"),
                           (layouts.mmbench, "mmbench"), (layouts.seed, "seed-image")):
        (data / folder).mkdir()
        writer(data / folder)
    [run] = plan_sweep(clip, [RECIPES.get("frozen")], llava, [0],
                       tmp_path / "runs", data_root=data)
    assert run.config.llm.source == "lmsys/vicuna-7b-v1.5" and not run.tiny
    assert run.config.llm.revision == VICUNA_REVISION
    assert run.config.image_aspect == "pad" and run.feature_cache == ""
    assert {b["name"] for b in run.summary()["benchmarks"]} == {
        "gqa", "scienceqa-img", "textvqa-ocr", "mme", "mmbench", "seed-image"}
    assert run.dataset_hashes["textvqa-ocr"]  # read from DIR/textvqa/, TextVQA's release
    study = PRESETS.get("cambrian-study")
    recipes = [RECIPES.get(r) for r in study.recipes]
    with pytest.raises(HarnessError, match="--data-root DIR"):
        plan_sweep(["clip-vit-l14-336.openai"], recipes, study, [0], tmp_path / "runs")
    with pytest.raises(HarnessError, match="benchmark 'mmmu': no folder"):
        plan_sweep(["clip-vit-l14-336.openai"], recipes, study, [0], tmp_path / "runs",
                   data_root=data)


def test_a_cambrian_style_mixture_balances_its_sources(tmp_path: Path) -> None:
    from harness.data.sources import load_source_file
    from harness.eval.prompts import SHORT_ANSWER_SUFFIX

    data = data_root(tmp_path / "data")
    mix = tmp_path / "mix.toml"
    mix.write_text('name = "my-mix"\nmix = ["llava-558k", "llava-665k"]\nthreshold = 5\n'
                   "short_answer_prompt = true\n")
    source = load_source_file(mix)
    rows = source.load(data)
    assert len(rows) == 10  # five of each source's twelve
    assert all(Path(r["image"]).is_file() for r in rows)  # each member's own image folder
    assert all(SHORT_ANSWER_SUFFIX in r["conversations"][0]["value"] for r in rows)
    preset = tmp_path / "mixed.toml"
    preset.write_text(REAL_PRESET.replace('finetune = "llava-665k"', f'finetune = "{mix}"'))
    [run] = plan(tmp_path / "runs", preset, data)
    assert run.config.sources["finetune"]["name"] == "my-mix"
    assert RunJob(checkpoint_every_s=0).run_one(run) == "done"
    mix.write_text(mix.read_text().replace("threshold = 5", "threshold = 6"))
    assert plan(tmp_path / "runs", preset, data)[0].key != run.key
    mix.write_text('name = "bad"\nmix = ["llava-558k", "nope"]\n')
    with pytest.raises(HarnessError, match="unknown data source 'nope'; valid: .*llava-558k"):
        load_source_file(mix)


def test_dry_run_states_the_cost_on_the_profiles_gpu(tmp_path: Path) -> None:
    data = data_root(tmp_path / "data")
    for writer, folder in ((layouts.gqa, "gqa"), (layouts.scienceqa, "scienceqa-img"),
                           (layouts.textvqa, "textvqa"), (layouts.mme, "mme"),
                           (layouts.mmbench, "mmbench"), (layouts.seed, "seed-image")):
        (data / folder).mkdir()
        writer(data / folder)
    hub = tmp_path / "hub"
    vicuna = {"architectures": ["LlamaForCausalLM"], "model_type": "llama",
              "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
              "num_attention_heads": 32, "num_key_value_heads": 32, "vocab_size": 32000}
    for repo, revision, files in (
            ("timm/vit_large_patch14_clip_336.openai", "0a1b", {}),
            ("lmsys/vicuna-7b-v1.5", VICUNA_REVISION, {"config.json": json.dumps(vicuna)})):
        folder = hub / f"models--{repo.replace('/', '--')}"
        (folder / "snapshots" / revision).mkdir(parents=True)
        (folder / "refs").mkdir()
        (folder / "refs" / "main").write_text(revision)
        for name, text in files.items():
            (folder / "snapshots" / revision / name).write_text(text)
    profile = tmp_path / "lab.toml"
    profile.write_text('executor = "local"\ngpu = "a100-80gb"\ngpus_per_node = 8\n')
    done = subprocess.run(
        [sys.executable, "-c", "from harness.cli.app import main; main()", "sweep",
         "--encoders", "clip-vit-l14-336.openai", "--preset", "llava-1.5", "--cluster",
         str(profile), "--data-root", str(data), "--root", str(tmp_path / "runs"),
         "--dry-run", "--format", "json"],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "HF_HUB_CACHE": str(hub), "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    [run] = plan["runs"]
    cost = run["cost"]
    assert cost["gpu_hours"] > 0 and cost["wall_hours"] == pytest.approx(
        cost["gpu_hours"] / 8, rel=1e-2)
    # A 7B finetune does not fit an 80 GB card unsharded: the memory plan shards it.
    assert cost["memory_gb_ddp"] > 80 and cost["fits"] is True
    assert cost["distributed"] == run["distributed"] == "fsdp"
    assert cost["memory_gb_per_gpu"] == cost["memory_gb_fsdp"] < 80
    assert "MFU 0.35 on a100-80gb x8" in cost["assumptions"]
    assert plan["total"]["runs_that_do_not_fit"] == 0
