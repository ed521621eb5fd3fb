"""Several encoders in one MLLM: each gets the image through its own transform, the connector
gets every encoder's tokens, and a recipe freezes or unfreezes them all."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from harness.data.conversations import pad_batch
from harness.encoder import ENCODERS
from harness.loaders import build_encoder
from harness.model.connector_parts import FeatureShape
from harness.model.connectors import CONNECTORS
from harness.model.ensemble import EncoderGroup, MultiPixels, combine, stack_pixels
from harness.model.llm import LLMS, build_llm, image_token_id
from harness.model.mllm import MLLM

# Different input sizes (128 vs 112) and normalisations (SigLIP's 0.5 vs ImageNet's).
PAIR = ("siglip-vit-l16-384.webli", "dinov2-vit-l14-518.lvd142m")


@pytest.fixture(scope="module")
def encoders():
    torch.manual_seed(0)
    return [build_encoder(ENCODERS.get(i), tiny=True) for i in PAIR]


def make_mllm(encoders, connector: str = "sva") -> MLLM:
    torch.manual_seed(0)
    llm, tok = build_llm(LLMS.get("tiny-llama"), ["a red circle left of a blue square"] * 3)
    shapes = [FeatureShape(e.embed_dim, e.grid) for e in encoders]
    model = MLLM(list(encoders), CONNECTORS.get(connector).create(shapes, llm.config.hidden_size),
                 llm, image_token_id(tok))
    return model


def pixels_for(model: MLLM, batch: int = 2) -> MultiPixels:
    return MultiPixels(torch.randn(batch, 3, e.image_size, e.image_size)
                       for e in model.encoders)


def test_each_encoder_gets_its_own_transform(encoders) -> None:
    group = EncoderGroup(encoders)
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    pixels = group.transform()(image)
    assert isinstance(pixels, MultiPixels)
    assert [tuple(p.shape) for p in pixels] == [(3, 128, 128), (3, 112, 112)]
    for p, e in zip(pixels, encoders, strict=True):  # each with its own normalisation
        assert torch.allclose(p, e.transform()(image))
    assert not torch.allclose(pixels[0][:, :4, :4].mean(), pixels[1][:, :4, :4].mean())


def test_collate_stacks_pixels_per_encoder(encoders) -> None:
    transform = EncoderGroup(encoders).transform()
    items = [{"input_ids": torch.tensor([1, 2, 3][:n]), "pixels": transform(
        Image.new("RGB", (32, 32), (10 * n, 0, 0)))} for n in (2, 3)]
    batch = pad_batch(items, pad_id=0, side="right")
    assert isinstance(batch["pixels"], MultiPixels)
    assert [tuple(p.shape) for p in batch["pixels"]] == [(2, 3, 128, 128), (2, 3, 112, 112)]
    assert torch.equal(batch["pixels"][1][1], items[1]["pixels"][1])
    moved = batch["pixels"].to(torch.float64)  # moves like a tensor (the trainer calls .to)
    assert isinstance(moved, MultiPixels) and moved[0].dtype == torch.float64
    single = stack_pixels([torch.zeros(3, 4, 4), torch.ones(3, 4, 4)])
    assert isinstance(single, torch.Tensor) and single.shape == (2, 3, 4, 4)


def test_connector_gets_every_encoders_tokens(encoders) -> None:
    model = make_mllm(encoders)
    pixels = pixels_for(model)
    features = model.encode(pixels)
    assert len(features) == 2
    for f, e, p in zip(features, encoders, pixels, strict=True):
        assert torch.equal(f, e(p))  # encoder k saw pixels k
    assert torch.equal(model.visual_tokens(pixels), model.connector(features))
    # Changing one encoder's pixels changes the visual tokens: both feed the connector.
    other = MultiPixels((pixels[0], torch.randn_like(pixels[1])))
    assert not torch.allclose(model.visual_tokens(pixels), model.visual_tokens(other))


def test_group_rejects_one_tensor_for_several_encoders(encoders) -> None:
    model = make_mllm(encoders)
    with pytest.raises(ValueError, match="one pixel tensor per encoder"):
        model.encode(torch.randn(1, 3, 112, 112))


@pytest.mark.parametrize("connector", ["sva", "concat", "interleave"])
def test_trains_connector_and_freezes_or_unfreezes_all_encoders(encoders, connector) -> None:
    model = make_mllm(encoders, connector)
    n = model.num_image_tokens
    ids = torch.tensor([[1] + [model.image_token_id] * n + [40, 41]] * 2)
    labels = torch.full_like(ids, -100)
    labels[:, -1] = ids[:, -1]
    pixels = pixels_for(model)
    model.zero_grad(set_to_none=True)  # the encoders are shared with the other cases

    model.encoder.set_trainable(False)
    model.connector.requires_grad_(True)
    model(ids, torch.ones_like(ids), pixels, labels=labels).backward()
    assert all(p.grad is None for e in model.encoders for p in e.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.connector.parameters())

    model.zero_grad(set_to_none=True)
    model.encoder.set_trainable(True)
    assert model.encoder.trainable and all(e.trainable and e.training for e in model.encoders)
    model(ids, torch.ones_like(ids), pixels, labels=labels).backward()
    for e in model.encoders:  # gradient reaches every encoder
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in e.parameters())
    assert model.encoder.num_parameters() == sum(e.num_parameters() for e in encoders)
    model.zero_grad(set_to_none=True)
    model.encoder.set_trainable(False)


def test_a_single_encoder_model_is_unchanged(encoders) -> None:
    """One encoder is held as itself: same module tree, same state-dict keys as before."""
    assert combine(encoders[:1]) is encoders[0]
    llm, tok = build_llm(LLMS.get("tiny-llama"), ["a b c"] * 3)
    shapes = [FeatureShape(encoders[0].embed_dim, encoders[0].grid)]
    connector = CONNECTORS.get("mlp2x_gelu").create(shapes, llm.config.hidden_size)
    as_list = MLLM([encoders[0]], connector, llm, image_token_id(tok))
    as_one = MLLM(encoders[0], connector, llm, image_token_id(tok))
    assert as_list.encoder is as_one.encoder is encoders[0]
    assert list(as_list.state_dict()) == list(as_one.state_dict())
    assert as_one.encoders == [encoders[0]]
    with pytest.raises(ValueError, match="two or more"):
        EncoderGroup(encoders[:1])
