"""The encoder spec: ids a sweep can name (``architecture.weights``, never with the ``+`` that
joins a combination)."""

from __future__ import annotations

import pytest

from harness.encoder import EncoderSpec
from harness.errors import HarnessError


@pytest.mark.parametrize(("bad_id", "message"), [
    ("clip-vit", "encoder id 'clip-vit' must be 'architecture.weights'"),
    ("clip.a+dino.b", "encoder id 'clip.a+dino.b' may not contain '+': a sweep joins"),
])
def test_an_encoder_id_that_a_sweep_could_not_name_is_refused(bad_id: str, message: str) -> None:
    with pytest.raises(HarnessError) as caught:
        EncoderSpec(id=bad_id, group="ssl", supervision="self", architecture="vit",
                    resolution=224, loader="timm", source="vit_tiny_patch16_224")
    assert str(caught.value).startswith(message)
