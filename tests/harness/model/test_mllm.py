"""The MLLM splices visual tokens into the text embeddings and learns only from answers."""

from __future__ import annotations

import pytest
import torch

from harness.encoder import ENCODERS
from harness.loaders import build_encoder
from harness.model.connector_parts import FeatureShape
from harness.model.connectors import CONNECTORS
from harness.model.llm import LLMS, build_llm, image_token_id
from harness.model.mllm import MLLM


@pytest.fixture(scope="module")
def mllm() -> MLLM:
    torch.manual_seed(0)
    encoder = build_encoder(ENCODERS.get("clip-vit-l14-336.openai"), tiny=True)
    llm, tok = build_llm(LLMS.get("tiny-llama"), ["a red circle left of a blue square"] * 3)
    connector = CONNECTORS.get("mlp2x_gelu").create(
        [FeatureShape(encoder.embed_dim, encoder.grid)], llm.config.hidden_size)
    model = MLLM(encoder, connector, llm, image_token_id(tok))
    model.tokenizer = tok
    return model


def inputs(model: MLLM, batch: int = 2):
    n = model.num_image_tokens
    image = model.image_token_id
    ids = torch.tensor([[1] + [image] * n + [40, 41, 42]] * batch)
    size = model.encoder.image_size
    return ids, torch.ones_like(ids), torch.randn(batch, 3, size, size)


def test_visual_tokens_replace_the_image_slots(mllm: MLLM) -> None:
    ids, _, pixels = inputs(mllm)
    embeds = mllm.embed(ids, pixels)
    visual = mllm.visual_tokens(pixels)
    n = mllm.num_image_tokens
    assert torch.equal(embeds[:, 1 : 1 + n], visual)
    text = mllm.llm.get_input_embeddings()(ids[:, -3:])
    assert torch.equal(embeds[:, -3:], text)


def test_slot_count_must_match(mllm: MLLM) -> None:
    ids, _, pixels = inputs(mllm)
    with pytest.raises(ValueError, match="image-token slots"):
        mllm.embed(ids[:, :-5][:, :10], pixels)


def test_loss_only_from_labelled_tokens(mllm: MLLM) -> None:
    ids, mask, pixels = inputs(mllm)
    labels = torch.full_like(ids, -100)
    labels[:, -1] = ids[:, -1]
    loss = mllm(ids, mask, pixels, labels=labels)
    # Reference: the full causal-LM loss of the LLM on the same embeddings and labels.
    reference = mllm.llm(inputs_embeds=mllm.embed(ids, pixels), attention_mask=mask,
                         labels=labels).loss
    assert loss.item() == pytest.approx(reference.item(), rel=1e-5)


def test_generate_returns_new_tokens(mllm: MLLM) -> None:
    ids, mask, pixels = inputs(mllm)
    out = mllm.generate(ids, mask, pixels, max_new_tokens=3)
    assert out.shape[0] == 2 and 1 <= out.shape[1] <= 3
