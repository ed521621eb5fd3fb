"""The encoder contract, run over every registered encoder's tiny twin (timm-style: every
encoder, present and future, gets the same test for free)."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from harness.encoder import ENCODERS, GROUPS, Encoder, build_encoder

SPECS = ENCODERS.items()


@pytest.fixture(scope="module", params=SPECS, ids=[s.id for s in SPECS])
def twin(request) -> Encoder:
    torch.manual_seed(0)
    return build_encoder(request.param, tiny=True)


def test_registry_has_the_three_compared_families() -> None:
    assert {"clip", "ssl", "convnext"} <= {s.group for s in SPECS}
    assert all(s.group in GROUPS for s in SPECS)
    assert ENCODERS.problems == []


def test_tokens_are_spatial_on_the_grid(twin: Encoder) -> None:
    pixels = torch.randn(2, 3, twin.image_size, twin.image_size)
    tokens = twin(pixels)
    h, w = twin.grid
    assert tokens.shape == (2, h * w, twin.embed_dim)
    assert h * w == twin.num_tokens > 1
    assert torch.isfinite(tokens).all()


def test_transform_gives_the_encoder_input(twin: Encoder) -> None:
    image = Image.new("RGB", (97, 61), (200, 30, 30))
    pixels = twin.transform()(image)
    assert pixels.shape == (3, twin.image_size, twin.image_size)
    assert pixels.dtype == torch.float32
    # Normalised with the encoder's own statistics, not left in [0, 1].
    expected_red = (200 / 255 - twin.mean[0]) / twin.std[0]
    assert pixels[0].mean().item() == pytest.approx(expected_red, abs=0.02)


def test_deterministic(twin: Encoder) -> None:
    pixels = torch.randn(1, 3, twin.image_size, twin.image_size)
    twin.eval()
    assert torch.equal(twin(pixels), twin(pixels))
    torch.manual_seed(0)
    again = build_encoder(twin.spec, tiny=True)
    assert torch.equal(again(pixels), twin(pixels))


def test_tokens_depend_on_where_things_are(twin: Encoder) -> None:
    """A spatial encoder must tell a blob on the left from one on the right."""
    left = torch.zeros(1, 3, twin.image_size, twin.image_size)
    right = left.clone()
    half = twin.image_size // 2
    left[..., :, :half] = 1.0
    right[..., :, half:] = 1.0
    assert not torch.allclose(twin(left), twin(right))


def test_frozen_parameters_stay_frozen(twin: Encoder) -> None:
    twin.set_trainable(False)
    assert not twin.trainable and not twin.training
    before = [p.detach().clone() for p in twin.parameters()]
    head = torch.nn.Linear(twin.embed_dim, 1)
    optim = torch.optim.SGD(list(head.parameters()) + list(twin.parameters()), lr=1.0)
    with torch.no_grad():
        tokens = twin(torch.randn(2, 3, twin.image_size, twin.image_size))
    head(tokens).sum().backward()
    optim.step()
    assert all(torch.equal(a, b) for a, b in zip(before, twin.parameters(), strict=True))
    twin.set_trainable(True)
    assert twin.trainable and twin.training
    twin.set_trainable(False)
