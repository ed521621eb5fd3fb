"""The loader kinds' registry: ``@register_loader("timm")`` names a function that turns an
``EncoderSpec`` into an ``Encoder``; a spec's ``loader`` field picks one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from harness.encoder import Encoder, EncoderSpec
from harness.registry import Registry


class EncoderBuilder(Protocol):
    def __call__(self, spec: EncoderSpec, tiny: bool, *, weights_path: Path | None = None,
                 pretrained: bool = True) -> Encoder: ...


LOADERS: Registry[tuple[str, EncoderBuilder]] = Registry(
    "encoder loader", None, name_of=lambda pair: pair[0], item_type=tuple
)


def register_loader(name: str) -> Callable[[EncoderBuilder], EncoderBuilder]:
    """Decorator: ``@register_loader("timm")`` on a function
    ``(spec, tiny, *, weights_path=None, pretrained=True) -> Encoder``; ``pretrained=False``
    builds the real architecture with random weights, loading nothing."""

    def wrap(fn: EncoderBuilder) -> EncoderBuilder:
        LOADERS.register((name, fn))
        return fn

    return wrap


