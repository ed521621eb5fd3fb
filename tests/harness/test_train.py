"""The training loop's pure parts, and what each stage is allowed to change."""

from __future__ import annotations

import pytest
import torch

from harness.recipe import RECIPES, Stage
from harness.train import cosine_lr, plan_batches, set_trainable


def test_cosine_schedule() -> None:
    total = 100
    assert cosine_lr(0, total, 0.03) == pytest.approx(1 / 3)
    assert cosine_lr(2, total, 0.03) == pytest.approx(1.0)
    assert cosine_lr(3, total, 0.03) == pytest.approx(1.0)
    assert cosine_lr(51, total, 0.03) == pytest.approx(0.5, abs=0.02)
    assert cosine_lr(100, total, 0.03) == pytest.approx(0.0, abs=1e-9)
    values = [cosine_lr(s, total, 0.03) for s in range(3, total)]
    assert values == sorted(values, reverse=True)


@pytest.mark.parametrize(("global_batch", "micro", "world", "expected"), [
    (256, 16, 1, (16, 16)), (128, 16, 8, (16, 1)), (128, 32, 8, (16, 1)),
    (12, 8, 1, (6, 2)), (7, 16, 1, (7, 1)),
])
def test_plan_batches_keeps_the_global_batch(global_batch, micro, world, expected) -> None:
    got = plan_batches(global_batch, micro, world)
    assert got == expected
    assert got[0] * got[1] * world == global_batch


def test_plan_batches_rejects_an_uneven_split() -> None:
    with pytest.raises(ValueError, match="does not split"):
        plan_batches(10, 4, 3)


class Toy(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        from harness.encoder import ENCODERS
        from harness.loaders import build_encoder

        self.encoder = build_encoder(ENCODERS.get("clip-vit-l14-336.openai"), tiny=True)
        self.connector = torch.nn.Linear(2, 2)
        self.llm = torch.nn.Linear(2, 2)


@pytest.mark.parametrize(("recipe", "stage", "encoder", "llm"), [
    ("frozen", "align", False, False), ("frozen", "finetune", False, True),
    ("unfrozen", "align", False, False), ("unfrozen", "finetune", True, True),
])
def test_what_each_stage_trains(recipe: str, stage: str, encoder: bool, llm: bool) -> None:
    model = Toy()
    set_trainable(model, Stage(stage, lr=1e-3, global_batch=4), RECIPES.get(recipe))
    assert model.encoder.trainable is encoder
    assert all(p.requires_grad is llm for p in model.llm.parameters())
    assert all(p.requires_grad for p in model.connector.parameters())


def test_too_many_unreadable_images_fail_the_stage() -> None:
    from harness.errors import HarnessError
    from harness.train import check_bad_images

    class Data(list):
        bad_images = {"a.png": "OSError: truncated"}

    recipe = RECIPES.get("frozen")
    stage = recipe.stage("align")
    check_bad_images(Data(range(200)), stage, recipe)  # 0.5 % is within the 1 % bound
    with pytest.raises(HarnessError, match=r"1 of 50 images unreadable \(2.0% > max_bad_images"
                                           r" 1.0%\); first: a.png: OSError: truncated"):
        check_bad_images(Data(range(50)), stage, recipe)
