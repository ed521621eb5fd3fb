"""Several encoders as one: each sees the image through its own transform (its own size and
normalisation), and all are frozen or unfrozen together.

A multi-encoder image is a ``MultiPixels``: one tensor per encoder, in the group's order. It
moves to a device like a tensor, and ``stack_pixels`` batches it like ``torch.stack``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from harness.combination import combined_id
from harness.encoder import Encoder

Pixels = torch.Tensor | Sequence[torch.Tensor]
"""One encoder's pixels ``[B, 3, S, S]``, or one such tensor per encoder of a group."""


class MultiPixels(tuple):
    """One pixel tensor per encoder (each at that encoder's own size)."""

    def to(self, *args, **kwargs) -> MultiPixels:
        return MultiPixels(t.to(*args, **kwargs) for t in self)


def stack_pixels(items: Sequence[torch.Tensor | MultiPixels]) -> torch.Tensor | MultiPixels:
    """A batch from per-image pixels: ``torch.stack``, per encoder for ``MultiPixels``."""
    if isinstance(items[0], MultiPixels):
        return MultiPixels(torch.stack(column) for column in zip(*items, strict=True))
    return torch.stack(list(items))


class MultiTransform:
    """PIL image -> ``MultiPixels``: every encoder's own transform, in order."""

    def __init__(self, transforms: Sequence[Callable]) -> None:
        self.transforms = list(transforms)

    def __call__(self, image) -> MultiPixels:
        return MultiPixels(t(image) for t in self.transforms)


class EncoderGroup(nn.Module):
    """Encoders run side by side; ``forward`` gives each one's tokens ``[B, h_k*w_k, C_k]``.

    It answers what the trainer asks of an encoder (``set_trainable``, ``trainable``,
    ``num_parameters``, ``transform``), so a recipe freezes or unfreezes every member at once.
    """

    def __init__(self, encoders: Sequence[Encoder]) -> None:
        super().__init__()
        if len(encoders) < 2:
            raise ValueError(f"an encoder group needs two or more encoders, got {len(encoders)}")
        self.members = nn.ModuleList(encoders)

    def __len__(self) -> int:
        return len(self.members)

    def __iter__(self):
        return iter(self.members)

    @property
    def id(self) -> str:
        return combined_id(e.spec.id for e in self.members)

    def forward(self, pixels: Pixels) -> list[torch.Tensor]:
        if isinstance(pixels, torch.Tensor) or len(pixels) != len(self.members):
            got = "one tensor" if isinstance(pixels, torch.Tensor) else f"{len(pixels)} tensors"
            raise ValueError(f"{self.id} takes one pixel tensor per encoder"
                             f" ({len(self.members)}), got {got}: use the group's transform()")
        return [encoder(p) for encoder, p in zip(self.members, pixels, strict=True)]

    def transform(self) -> MultiTransform:
        return MultiTransform([e.transform() for e in self.members])

    def set_trainable(self, trainable: bool) -> None:
        for encoder in self.members:
            encoder.set_trainable(trainable)

    @property
    def trainable(self) -> bool:
        return any(e.trainable for e in self.members)

    def num_parameters(self) -> int:
        return sum(e.num_parameters() for e in self.members)


def members(encoder: Encoder | EncoderGroup) -> list[Encoder]:
    """Every encoder, in the order the connector receives their tokens (one for a single)."""
    return list(encoder) if isinstance(encoder, EncoderGroup) else [encoder]


def combine(encoders: Sequence[Encoder]) -> Encoder | EncoderGroup:
    """The one encoder itself (so a single-encoder model stays exactly as it was), or a group."""
    if not encoders:
        raise ValueError("no encoder given")
    return encoders[0] if len(encoders) == 1 else EncoderGroup(encoders)
