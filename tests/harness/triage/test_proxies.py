"""The proxies on encoders whose answer is known: features that spell the labels out, features
that carry nothing, and a pixel "encoder" whose colours make shapes easy to find again."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from harness.triage.data import EncodedData, TriageData, TriageSettings, labels
from harness.triage.proxies import PROXIES, proxy_score
from harness.triage.scenes import ATTRIBUTES, TASKS

SETTINGS = TriageSettings(train_per_task=48, test_per_task=24, triplets_per_attribute=12,
                          correspondences=12, image_size=96, resamples=300)
DATA = TriageData.draw(SETTINGS)


class Pixels(nn.Module):
    """The picture itself, average-pooled to 12 x 12 tokens of RGB: sees colour and place."""

    grid = (12, 12)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return nn.functional.adaptive_avg_pool2d(pixels, self.grid).flatten(2).transpose(1, 2)


def encoded(encoder: nn.Module | None = None) -> EncodedData:
    encoder = encoder or Pixels()
    return EncodedData(encoder, DATA, to_tensor, encoder.grid)


def to_tensor(image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(image, dtype="float32") / 255).permute(2, 0, 1)


def leaking(noise: float) -> EncodedData:
    """Tokens whose first channels are the one-hot label (plus noise), for every task."""
    data = encoded()
    generator = torch.Generator().manual_seed(0)
    for split in ("train", "test"):
        for task, classes in TASKS.items():
            y = labels(getattr(DATA, split)[task])
            tokens = torch.randn(len(y), 4, 8, generator=generator) * noise
            tokens[:, :, :classes] += nn.functional.one_hot(y, classes).float().unsqueeze(1)
            data._cache[f"{split}/{task}"] = tokens
    return data


def overall(scores):
    return next(s for s in scores if s.subset == "overall")


@pytest.mark.parametrize("name", ["linear-probe", "attentive-probe", "knn"])
def test_probes_read_labels_the_features_spell_out(name: str) -> None:
    scores = PROXIES[name].compute(leaking(noise=0.05))
    assert overall(scores).value == 100.0
    assert {s.subset for s in scores} == {"overall", *(f"task:{t}" for t in TASKS)}
    assert overall(scores).n == 3 * SETTINGS.test_per_task


@pytest.mark.parametrize("name", ["linear-probe", "knn"])
def test_probes_on_features_that_carry_nothing_stay_near_chance(name: str) -> None:
    data = encoded()
    generator = torch.Generator().manual_seed(1)
    for split in ("train", "test"):
        for task in TASKS:
            n = len(getattr(DATA, split)[task])
            data._cache[f"{split}/{task}"] = torch.randn(n, 4, 8, generator=generator)
    score = overall(PROXIES[name].compute(data))
    assert score.ci_low <= score.chance + 10 and score.value < 70


def test_pixels_find_shapes_again_and_constant_features_do_not() -> None:
    seen = overall(PROXIES["correspondence"].compute(encoded()))
    assert seen.value > 70 and seen.metric == "pck@0.1"

    class Constant(Pixels):
        def forward(self, pixels):
            return torch.ones(len(pixels), 144, 3)

    blind = overall(PROXIES["correspondence"].compute(encoded(Constant())))
    assert blind.value < 40 < seen.ci_low


def test_pairs_score_each_attribute_and_colour_is_seen_by_pixels() -> None:
    scores = {s.subset: s for s in PROXIES["pairs"].compute(encoded())}
    assert set(scores) == {"overall", *(f"attribute:{a}" for a in ATTRIBUTES)}
    assert scores["attribute:color"].value >= 75
    assert all(s.chance == 50.0 and s.n == SETTINGS.triplets_per_attribute
               for k, s in scores.items() if k != "overall")


def test_every_score_is_a_proxy_with_its_interval_around_its_value() -> None:
    for proxy in PROXIES.values():
        for s in proxy.compute(encoded()):
            assert s.kind == "proxy" and s.benchmark == f"proxy:{proxy.name}"
            assert s.ci_low <= s.value <= s.ci_high and s.ci_resamples == SETTINGS.resamples
            assert s.problem() is None


def test_intervals_resample_within_strata_and_repeat_for_a_seed() -> None:
    a = proxy_score("x", "accuracy", "overall", [[1, 1, 1, 1], [0, 0, 0, 0]], chance=50,
                    resamples=500, seed=3)
    # Each stratum is resampled on its own, so the pooled mean never moves off 50.
    assert (a.value, a.ci_low, a.ci_high) == (50.0, 50.0, 50.0)
    b = proxy_score("x", "accuracy", "overall", [[1, 0, 1, 1, 0, 1]], chance=50,
                    resamples=500, seed=3)
    assert b == dataclasses.replace(proxy_score("x", "accuracy", "overall",
                                                [[1, 0, 1, 1, 0, 1]], chance=50,
                                                resamples=500, seed=3))
    assert b.ci_low < b.value < b.ci_high
