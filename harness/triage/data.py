"""What triage shows every encoder, and the encoder's frozen tokens of it.

``TriageData`` is drawn once from the settings (the same seed, the same pictures for every
encoder); ``EncodedData`` runs one encoder over each set of pictures the first time a proxy
asks for it, so a proxy that fails does not cost the others their features.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import torch
from PIL import Image

from harness.config import stable_hash
from harness.encoder import Encoder
from harness.triage.scenes import (
    ATTRIBUTES,
    TASKS,
    Scene,
    Warp,
    correspondence_scene,
    pair_triplets,
    task_scenes,
)

BATCH = 32


@dataclass(frozen=True)
class TriageSettings:
    """How much triage draws; part of every proxy score's identity."""

    seed: int = 0
    train_per_task: int = 96
    test_per_task: int = 48
    triplets_per_attribute: int = 32
    correspondences: int = 32
    image_size: int = 224
    """The side the scenes are drawn at (each encoder then resizes to its own input)."""
    resamples: int = 2000
    """Bootstrap resamples of every interval."""

    def fingerprint(self) -> str:
        return stable_hash(asdict(self))


@dataclass
class TriageData:
    settings: TriageSettings
    train: dict[str, list[tuple[Scene, int]]]
    test: dict[str, list[tuple[Scene, int]]]
    triplets: dict[str, list[tuple[Scene, Scene, Scene]]]
    correspondences: list[tuple[Scene, Warp, list[tuple[float, float]]]]

    @classmethod
    def draw(cls, settings: TriageSettings) -> TriageData:
        def rng(part: str) -> random.Random:
            return random.Random(f"triage-{settings.seed}-{part}")

        warps = rng("correspondence")
        return cls(
            settings=settings,
            train={t: task_scenes(rng(f"train-{t}"), t, settings.train_per_task) for t in TASKS},
            test={t: task_scenes(rng(f"test-{t}"), t, settings.test_per_task) for t in TASKS},
            triplets={a: pair_triplets(rng(f"pairs-{a}"), a, settings.triplets_per_attribute)
                      for a in ATTRIBUTES},
            correspondences=[correspondence_scene(warps) for _ in range(settings.correspondences)],
        )


@dataclass
class EncodedData:
    """One encoder's tokens ``[N, h*w, C]`` of each picture set, computed on first use."""

    encoder: Encoder | Callable[[torch.Tensor], torch.Tensor]
    data: TriageData
    transform: Callable[[Image.Image], torch.Tensor]
    grid: tuple[int, int]
    device: str = "cpu"
    _cache: dict[str, torch.Tensor] = field(default_factory=dict)

    @classmethod
    def of(cls, encoder: Encoder, data: TriageData, device: str = "cpu") -> EncodedData:
        return cls(encoder.to(device), data, encoder.transform(), encoder.grid, device)

    def tokens(self, name: str, images: Callable[[], Sequence[Image.Image]]) -> torch.Tensor:
        if name not in self._cache:
            self._cache[name] = self._encode(images())
        return self._cache[name]

    def _encode(self, images: Sequence[Image.Image]) -> torch.Tensor:
        out = []
        with torch.no_grad():
            for start in range(0, len(images), BATCH):
                pixels = torch.stack([self.transform(im) for im in images[start:start + BATCH]])
                # The proxies are small: they run on the CPU whatever device encoded.
                out.append(self.encoder(pixels.to(self.device)).float().cpu())
        return torch.cat(out)

    # The picture sets the proxies read.

    def task_tokens(self, split: str, task: str) -> torch.Tensor:
        items = getattr(self.data, split)[task]
        return self.tokens(f"{split}/{task}", lambda: [self._render(s) for s, _ in items])

    def triplet_tokens(self, attribute: str) -> torch.Tensor:
        """``[n, 3, T, C]``: each triplet's scene, nudged copy and changed copy."""
        triplets = self.data.triplets[attribute]
        flat = self.tokens(f"pairs/{attribute}",
                           lambda: [self._render(s) for t in triplets for s in t])
        return flat.reshape(len(triplets), 3, *flat.shape[1:])

    def correspondence_tokens(self) -> torch.Tensor:
        """``[n, 2, T, C]``: each scene and its warped copy."""
        items = self.data.correspondences

        def images() -> list[Image.Image]:
            out = []
            for scene, warp, _ in items:
                picture = self._render(scene)
                out += [picture, warp.apply(picture)]
            return out

        flat = self.tokens("correspondence", images)
        return flat.reshape(len(items), 2, *flat.shape[1:])

    def _render(self, scene: Scene) -> Image.Image:
        return scene.render(self.data.settings.image_size)


def labels(items: list[tuple[Scene, int]]) -> torch.Tensor:
    return torch.tensor([label for _, label in items])
