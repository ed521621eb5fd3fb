"""The frozen-feature proxies: cheap stand-ins for training an MLLM on an encoder, each a
function of the encoder's tokens of the triage pictures that returns proxy scores.

- ``linear-probe`` and ``attentive-probe``: count, relation and depth read off the tokens by a
  linear classifier on their mean, or by one learned query attending over them;
- ``knn``: the same labels by the nearest training pictures (cosine, k = 10);
- ``correspondence``: each shape's centre found again in a flipped, cropped and rescaled copy
  (PCK at 0.1 of the image side, features upsampled to 32 x 32 as correspondence work does);
- ``pairs``: MMVP-style, whether the tokens put a picture nearer to a nudged copy of itself
  than to a copy with one attribute changed (colour, count, left/right, front/back).

Every score carries a 95% bootstrap interval over its units (pictures, triplets or picture
pairs; tasks and attributes kept apart as strata).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from harness.eval.bootstrap import percentile_interval
from harness.record import Score
from harness.triage.data import EncodedData, labels
from harness.triage.scenes import ATTRIBUTES, TASKS
from harness.triage.stored import BENCHMARK_PREFIX, KIND

OVERALL = "overall"
KNN_K = 10
MATCH_GRID = 32
PCK_THRESHOLD = 0.1


@dataclass(frozen=True)
class Proxy:
    name: str
    metric: str
    description: str
    compute: Callable[[EncodedData], list[Score]]
    version: str = "1"
    """Bump when the proxy's computation changes: its scores get new keys."""

    @property
    def benchmark(self) -> str:
        return BENCHMARK_PREFIX + self.name


# -- scores with intervals ---------------------------------------------------------------------


def proxy_score(proxy: str, metric: str, subset: str, strata: list[np.ndarray], *,
                chance: float | None, resamples: int, seed: int, scale: float = 100.0,
                low: float = 0.0) -> Score:
    """The mean of the units (pooled over strata), times ``scale``, with its 95% interval from
    resampling each stratum's units with replacement."""
    strata = [np.asarray(s, dtype=np.float64) for s in strata if len(s)]
    total = sum(len(s) for s in strata)
    rng = np.random.default_rng(seed)
    drawn = sum(s[rng.integers(0, len(s), (resamples, len(s)))].sum(axis=1) for s in strata)
    interval = percentile_interval(scale * drawn / total)
    return Score(
        benchmark=BENCHMARK_PREFIX + proxy, metric=metric, subset=subset,
        value=round(float(scale * sum(s.sum() for s in strata) / total), 4), n=total,
        chance=chance, kind=KIND, ci_low=round(interval.low, 4),
        ci_high=round(interval.high, 4), ci_resamples=resamples, ci_seed=seed,
        range_min=low, range_max=scale,
    )


def _per_task(proxy: str, correct: dict[str, np.ndarray], encoded: EncodedData) -> list[Score]:
    """A score per task and one over all three (each task its own stratum)."""
    settings = encoded.data.settings
    args = {"resamples": settings.resamples, "seed": settings.seed}
    chance = {task: 100.0 / classes for task, classes in TASKS.items()}
    scores = [proxy_score(proxy, "accuracy", f"task:{task}", [c], chance=chance[task], **args)
              for task, c in correct.items()]
    overall_chance = sum(chance[t] * len(c) for t, c in correct.items()) / sum(
        len(c) for c in correct.values())
    return [proxy_score(proxy, "accuracy", OVERALL, list(correct.values()),
                        chance=round(overall_chance, 4), **args), *scores]


# -- probes ------------------------------------------------------------------------------------


def _standardised(train: torch.Tensor, test: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Both sets scaled by the training set's per-channel mean and spread (last dimension)."""
    dims = tuple(range(train.dim() - 1))
    mean, std = train.mean(dim=dims), train.std(dim=dims).clamp_min(1e-6)
    return (train - mean) / std, (test - mean) / std


class AttentivePool(nn.Module):
    """One learned query attending over the tokens, then a linear classifier."""

    def __init__(self, width: int, classes: int, hidden: int = 64) -> None:
        super().__init__()
        self.key = nn.Linear(width, hidden)
        self.value = nn.Linear(width, hidden)
        self.query = nn.Parameter(torch.zeros(hidden))
        self.head = nn.Linear(hidden, classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(self.key(tokens) @ self.query / math.sqrt(len(self.query)), -1)
        return self.head((weights.unsqueeze(-1) * self.value(tokens)).sum(dim=1))


def _fit(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, lr: float,
         weight_decay: float) -> nn.Module:
    """Full-batch AdamW on cross-entropy: deterministic for a seed, no minibatch noise."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    for _ in range(steps):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    return model


def _probe(encoded: EncodedData, make: Callable[[int, int], nn.Module], pooled: bool,
           steps: int, lr: float) -> dict[str, np.ndarray]:
    correct = {}
    for task, classes in TASKS.items():
        train, test = (encoded.task_tokens(split, task) for split in ("train", "test"))
        if pooled:
            train, test = train.mean(dim=1), test.mean(dim=1)
        train, test = _standardised(train, test)
        y_train = labels(encoded.data.train[task])
        torch.manual_seed(encoded.data.settings.seed)
        model = _fit(make(train.shape[-1], classes), train, y_train, steps, lr, 1e-2)
        with torch.no_grad():
            predicted = model(test).argmax(dim=-1)
        correct[task] = (predicted == labels(encoded.data.test[task])).numpy()
    return correct


def linear_probe(encoded: EncodedData) -> list[Score]:
    correct = _probe(encoded, lambda width, classes: nn.Linear(width, classes), pooled=True,
                     steps=300, lr=1e-2)
    return _per_task("linear-probe", correct, encoded)


def attentive_probe(encoded: EncodedData) -> list[Score]:
    correct = _probe(encoded, AttentivePool, pooled=False, steps=300, lr=3e-3)
    return _per_task("attentive-probe", correct, encoded)


def knn(encoded: EncodedData) -> list[Score]:
    correct = {}
    for task, classes in TASKS.items():
        train, test = (nn.functional.normalize(encoded.task_tokens(split, task).mean(dim=1),
                                               dim=-1) for split in ("train", "test"))
        nearest = (test @ train.T).topk(min(KNN_K, len(train)), dim=-1)
        votes = nn.functional.one_hot(labels(encoded.data.train[task])[nearest.indices],
                                      classes).float()
        # Ties go to the nearer neighbours: each vote weighs a hair more the nearer it is.
        rank_weight = 1 + 1e-3 * torch.linspace(1, 0, votes.shape[1]).unsqueeze(-1)
        predicted = (votes * rank_weight).sum(dim=1).argmax(dim=-1)
        correct[task] = (predicted == labels(encoded.data.test[task])).numpy()
    return _per_task("knn", correct, encoded)


# -- pairs -------------------------------------------------------------------------------------


def pairs(encoded: EncodedData) -> list[Score]:
    settings = encoded.data.settings
    correct = {}
    for attribute in ATTRIBUTES:
        tokens = encoded.triplet_tokens(attribute)  # [n, 3, T, C]
        flat = tokens.reshape(-1, tokens.shape[-1])
        # Centred and scaled per channel, so a shared offset cannot make every picture alike.
        tokens = (tokens - flat.mean(0)) / flat.std(0).clamp_min(1e-6)
        vectors = nn.functional.normalize(tokens.flatten(2), dim=-1)
        nudged = (vectors[:, 0] * vectors[:, 1]).sum(-1)
        changed = (vectors[:, 0] * vectors[:, 2]).sum(-1)
        correct[attribute] = (nudged > changed).numpy()
    args = {"resamples": settings.resamples, "seed": settings.seed, "chance": 50.0}
    return [proxy_score("pairs", "accuracy", OVERALL, list(correct.values()), **args),
            *(proxy_score("pairs", "accuracy", f"attribute:{a}", [c], **args)
              for a, c in correct.items())]


# -- correspondence ----------------------------------------------------------------------------


def _maps(tokens: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """``[B, T, C]`` -> unit-length feature maps ``[B, C, 32, 32]`` (bilinear)."""
    maps = tokens.transpose(1, 2).reshape(tokens.shape[0], tokens.shape[2], *grid)
    maps = nn.functional.interpolate(maps, size=(MATCH_GRID, MATCH_GRID), mode="bilinear",
                                     align_corners=False)
    return nn.functional.normalize(maps, dim=1)


def correspondence(encoded: EncodedData) -> list[Score]:
    settings = encoded.data.settings
    tokens = encoded.correspondence_tokens()  # [n, 2, T, C]
    source, target = _maps(tokens[:, 0], encoded.grid), _maps(tokens[:, 1], encoded.grid)
    centres = (torch.arange(MATCH_GRID) + 0.5) / MATCH_GRID
    per_image = []
    for i, (_, warp, points) in enumerate(encoded.data.correspondences):
        if not points:
            continue
        where = torch.tensor(points, dtype=torch.float32) * 2 - 1  # grid_sample's [-1, 1]
        queries = nn.functional.grid_sample(source[i:i + 1], where.view(1, 1, -1, 2),
                                            mode="bilinear", align_corners=False)[0, :, 0].T
        best = (queries @ target[i].flatten(1)).argmax(dim=-1)
        found = torch.stack([centres[best % MATCH_GRID], centres[best // MATCH_GRID]], -1)
        truth = torch.tensor([warp.point(x, y) for x, y in points])
        hits = ((found - truth).norm(dim=-1) <= PCK_THRESHOLD).float()
        per_image.append(hits.mean().item())
    chance = 100 * math.pi * PCK_THRESHOLD ** 2  # a random guess lands within the radius
    return [proxy_score("correspondence", "pck@0.1", OVERALL, [np.array(per_image)],
                        chance=round(chance, 2), resamples=settings.resamples,
                        seed=settings.seed)]


PROXIES: dict[str, Proxy] = {p.name: p for p in (
    Proxy("linear-probe", "accuracy", "count, relation and depth from the mean token, by a "
          "linear classifier", linear_probe),
    Proxy("attentive-probe", "accuracy", "count, relation and depth by one learned query "
          "attending over the tokens", attentive_probe),
    Proxy("knn", "accuracy", f"count, relation and depth by the {KNN_K} nearest training "
          "pictures (cosine of the mean token)", knn),
    Proxy("correspondence", "pck@0.1", "shape centres found again in a flipped, cropped copy "
          "(PCK at 0.1 of the side)", correspondence),
    Proxy("pairs", "accuracy", "MMVP-style: a picture nearer its nudged copy than a copy with "
          "one attribute changed", pairs),
)}
"""The proxies computed from the encoder's own tokens (alignment, which needs a finished
run's connector, is ``harness.triage.alignment``)."""
