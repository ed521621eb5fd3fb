"""The cost a dry run states: the FLOP, memory and disk arithmetic written in
``harness.sweep.cost``, checked by hand on round numbers, and the plan's sizes measured on the
meta device."""

from __future__ import annotations

import pytest

from harness.errors import HarnessError
from harness.model.llm import LLMS
from harness.sweep.cost import GPUS, Sizes, StageWork, gpu_named, run_cost
from harness.sweep.sizes import run_sizes

ROUND = Sizes(encoder_params=100, encoder_param_tokens=100 * 10, image_tokens=10,
              cached_values=10 * 8, llm_params=1000, llm_layers=2, llm_hidden=8, llm_heads=2)


def cost(**kw):
    options = dict(encoder="frozen", eval_items=0, eval_new_tokens=0, micro_batch=1,
                   gradient_checkpointing=True, feature_cache=False, keep="none", gpu=None,
                   gpus=1, mfu=0.5)
    return run_cost(ROUND, [StageWork("align", 4, 6.0), StageWork("finetune", 2, 6.0)],
                    **{**options, **kw})


def test_flops_follow_the_stated_rule() -> None:
    # align: 4 samples x (4 x 1000 x 16 tokens + 2 x 1000 encoder); finetune: 6 x, frozen.
    frozen = 4 * (4 * 1000 * 16 + 2 * 1000) + 2 * (6 * 1000 * 16 + 2 * 1000)
    assert cost().flops == frozen
    unfrozen = 4 * (4 * 1000 * 16 + 2 * 1000) + 2 * (6 * 1000 * 16 + 6 * 1000)
    assert cost(encoder="unfrozen").flops == unfrozen
    # The cache computes each image's features once, in the first stage.
    assert cost(feature_cache=True).flops == frozen - 2 * 2 * 1000
    # Evaluation: one forward over image, 64 prompt and the new tokens, per item.
    assert cost(eval_items=3, eval_new_tokens=6).flops == frozen + 3 * (
        2 * 1000 * (10 + 64 + 6) + 2 * 1000)


def test_gpu_hours_memory_and_disk() -> None:
    h100 = gpu_named("h100-sxm")
    c = cost(gpu=h100, gpus=8, keep="trainable", feature_cache=True)
    assert c.gpu_hours == pytest.approx(c.flops / (989e12 * 0.5) / 3600)
    assert c.wall_hours == pytest.approx(c.gpu_hours / 8)
    weights, states, acts = 4 * 1100, 12 * 1000, 2 * 16 * 1 * 8 * 2
    assert c.memory_gb_per_gpu == pytest.approx((weights + states + acts) / 1e9)
    assert c.fits is True
    assert c.disk_gb == pytest.approx((4 * 1000 + 12 * 1000 + 6 * 80 * 2) / 1e9)
    with pytest.raises(HarnessError, match="unknown gpu 'h100'; valid: h100-sxm"):
        gpu_named("h100")
    assert set(GPUS) >= {"h100-sxm", "a100-80gb", "h200"}


def test_a_7b_full_finetune_does_not_fit_an_80gb_card_unsharded() -> None:
    # Vicuna-7B's shape (no hub needed: the config's numbers) under CLIP-L/336.
    c = _vicuna(8, "ddp")
    assert c.memory_gb_per_gpu > 100 and c.fits is False  # fp32 weights + Adam: FSDP's job


def test_fsdp_memory_follows_the_stated_rule() -> None:
    h100 = gpu_named("h100-sxm")
    c = cost(gpu=h100, gpus=4, distributed="fsdp")
    # Weights, gradients and moments split over 4 GPUs; the root unit (1000 - 2 layers of
    # 500 = 0) and two 500-parameter layers gathered in bf16; activations as under DDP.
    gathered = 2 * 0 + 2 * 2 * 500
    acts = 2 * 16 * 1 * 8 * 2
    assert c.memory_gb_fsdp == pytest.approx(((4 * 1100 + 12 * 1000) / 4 + gathered + acts)
                                             / 1e9)
    assert c.memory_gb_per_gpu == c.memory_gb_fsdp and c.distributed == "fsdp"
    assert c.memory_gb_ddp == pytest.approx((4 * 1100 + 12 * 1000 + acts) / 1e9)


VICUNA = Sizes(encoder_params=303_507_456, encoder_param_tokens=303_507_456 * 577,
               image_tokens=576, cached_values=576 * 1024, llm_params=6_738_415_616,
               llm_layers=32, llm_hidden=4096, llm_heads=32, llm_layer_params=202_383_360)


def _vicuna(gpus: int, distributed: str = "auto", gpu: str = "h100-sxm"):
    return run_cost(VICUNA, [StageWork("finetune", 1000, 100.0)], encoder="frozen",
                    eval_items=0, eval_new_tokens=0, micro_batch=16,
                    gradient_checkpointing=True, feature_cache=False, keep="trainable",
                    gpu=gpu_named(gpu), gpus=gpus, mfu=0.35, distributed=distributed)


def test_auto_picks_fsdp_where_ddp_does_not_fit() -> None:
    from harness.sweep.cost import memory_problem

    c = _vicuna(8)
    assert c.memory_gb_ddp > 100  # fp32 weights + Adam of 6.7B: no 80 GB card
    assert c.distributed == "fsdp" and c.fits is True and c.memory_gb_fsdp < 40
    assert memory_problem(c, gpu_named("h100-sxm"), 8) is None
    # Where DDP fits (the tiny arithmetic above), auto keeps DDP.
    assert cost(gpu=gpu_named("h100-sxm"), gpus=8).distributed == "ddp"
    # No GPU named: nothing to fit, DDP as ever.
    assert cost(gpus=8).distributed == "ddp"


def test_a_run_that_fits_under_no_strategy_is_refused_with_the_numbers() -> None:
    from harness.sweep.cost import memory_problem

    c = _vicuna(1)  # one GPU: nothing to shard over
    assert c.distributed == "ddp" and c.fits is False
    problem = memory_problem(c, gpu_named("h100-sxm"), 1)
    assert problem.startswith(f"needs {c.memory_gb_ddp:,.1f} GB per GPU under ddp, the"
                              f" h100-sxm has 80 GB (DDP {c.memory_gb_ddp:,.1f} GB, FSDP over"
                              f" 1 GPU(s) {c.memory_gb_fsdp:,.1f} GB)")
    assert problem.endswith('or distributed = "fsdp"') and "\n" not in problem
    assert memory_problem(_vicuna(2, "fsdp", "a100-40gb"), gpu_named("a100-40gb"), 2) \
        .endswith("or gradient_checkpointing = true")


def test_sizes_are_measured_on_the_meta_device() -> None:
    sizes = run_sizes(["clip-vit-l14-336.openai"], False, "mlp2x_gelu", LLMS.get("tiny-llama"))
    assert sizes.encoder_params == 303_507_456 and sizes.image_tokens == 576
    llm = LLMS.get("tiny-llama")
    assert 0 < sizes.llm_layer_params < sizes.llm_params / llm.num_layers
    combo = run_sizes(["clip-vit-l14-336.openai", "dinov2-vit-l14-518.lvd142m"], False,
                      "sva", LLMS.get("tiny-llama"))
    assert combo.image_tokens == 24 * 25  # Cambrian-8B's 24x24 query grid, a newline per row
    assert combo.encoder_param_tokens == 303_507_456 * 576 + 304_367_616 * 1369


def test_the_plan_places_sva_modules_by_the_llms_depth() -> None:
    from harness.model.llm import LLMSpec
    from harness.sweep.sizes import in_llm_layers

    pair = ["clip-vit-l14-336.openai", "dinov2-vit-l14-518.lvd142m"]
    deep = LLMSpec(id="llama-like-32", description="32 layers", num_layers=32, hidden_size=64,
                   intermediate_size=128, num_heads=4)
    assert in_llm_layers(pair, True, "sva", deep) == ("after", [0, 3, 6, 9, 12, 15, 18, 21,
                                                                 24, 27])
    assert in_llm_layers(pair, True, "sva(llm_modules=0)", deep) == ("after", [])
    assert in_llm_layers(pair, True, "sva-lite(every=4)", deep)[1] == list(range(0, 32, 4))
    assert in_llm_layers(pair[:1], True, "mlp2x_gelu", deep)[1] == []


def _runs(tmp_path, distributed: str = "auto"):
    import dataclasses

    from harness.preset import PRESETS
    from harness.recipe import RECIPES
    from harness.sweep.plan import plan_sweep

    preset = dataclasses.replace(PRESETS.get("smoke"), distributed=distributed,
                                 gradient_checkpointing=True)
    return plan_sweep(["clip-vit-l14-336.openai"], [RECIPES.get("frozen")], preset, [0],
                      tmp_path)


def test_the_memory_plan_gives_auto_runs_fsdp_where_ddp_does_not_fit(
        tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.sweep import estimate

    monkeypatch.setattr(estimate, "run_sizes", lambda *a: VICUNA)
    runs = _runs(tmp_path)
    assert [r.distributed for r in runs] == ["auto"]
    h100 = gpu_named("h100-sxm")
    planned, costs = estimate.memory_plan(runs, estimate.Hardware(gpu=h100, gpus=8),
                                          tmp_path / "cache", refuse=True)
    assert [r.distributed for r in planned] == ["fsdp"]
    assert costs[0].memory_gb_ddp > 80 > costs[0].memory_gb_fsdp
    # No GPU named: nothing to fit, the runs stay as planned (the job takes auto as DDP).
    same, _ = estimate.memory_plan(runs, estimate.Hardware(), tmp_path / "cache", refuse=True)
    assert same == runs
    # One GPU: nothing to shard over, and DDP does not fit: refused with the numbers.
    with pytest.raises(HarnessError, match=rf"^run {runs[0].key} \(clip-vit-l14-336.openai"
                                           r" \(tiny twin\) / frozen / seed 0\): needs .* GB"
                                           r" per GPU under ddp, the h100-sxm has 80 GB"):
        estimate.memory_plan(runs, estimate.Hardware(gpu=h100, gpus=1), tmp_path / "cache",
                             refuse=True)
    # A dry run shows it instead of refusing.
    shown, costs = estimate.memory_plan(runs, estimate.Hardware(gpu=h100, gpus=1),
                                        tmp_path / "cache", refuse=False)
    assert costs[0].fits is False and shown[0].distributed == "ddp"


def test_a_dry_run_shows_both_estimates_and_the_choice(tmp_path) -> None:
    import json

    from typer.testing import CliRunner

    from harness.cli.app import app

    (tmp_path / "gpus.toml").write_text('executor = "local"\ngpu = "h100-sxm"\n'
                                        'gpus_per_node = 8\n')
    result = CliRunner().invoke(app, [
        "sweep", "--encoders", "effnet-lite0-224.in1k", "--preset", "real-cpu", "--recipes",
        "frozen", "--seeds", "0", "--cluster", str(tmp_path / "gpus.toml"), "--dry-run",
        "--format", "json", "--root", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    [run] = json.loads(result.output)["runs"]
    cost = run["cost"]
    assert run["distributed"] == cost["distributed"] == "ddp"  # a 135M LLM fits an H100
    assert 0 < cost["memory_gb_fsdp"] < cost["memory_gb_ddp"] == cost["memory_gb_per_gpu"]
