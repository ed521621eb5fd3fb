"""The MLLM splices visual tokens into the text embeddings and learns only from answers."""

from __future__ import annotations

import pytest
import torch

from harness.encoder import ENCODERS
from harness.loaders import build_encoder
from harness.model.connector_parts import FeatureShape
from harness.model.connectors import CONNECTORS
from harness.model.llm import LLMS, build_llm, image_token_id
from harness.model.mllm import IGNORE_INDEX, MLLM
from harness.sweep.model import enable_gradient_checkpointing


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


def full_loss(model: MLLM, ids, mask, pixels, labels) -> torch.Tensor:
    """The loss as transformers computes it, every position through every layer."""
    logits = model.llm(inputs_embeds=model.embed(ids, pixels), attention_mask=mask).logits
    return torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1).float(),
                                             labels[:, 1:].flatten(), ignore_index=IGNORE_INDEX)


@pytest.mark.parametrize("checkpointing", [False, True])
def test_the_last_layer_on_the_loss_rows_alone_gives_the_same_loss_and_gradients(
        mllm: MLLM, checkpointing: bool) -> None:
    ids, mask, pixels = inputs(mllm)
    labels = torch.full_like(ids, IGNORE_INDEX)
    labels[:, -2:] = ids[:, -2:]  # two answer tokens per row
    if checkpointing:
        enable_gradient_checkpointing(mllm.llm)
    mllm.train()
    try:
        grads = []
        for loss_of in (full_loss, lambda m, *a: m(*a)):
            mllm.zero_grad(set_to_none=True)
            loss = loss_of(mllm, ids, mask, pixels, labels)
            loss.backward()
            grads.append((loss.item(), {n: p.grad.clone() for n, p in mllm.named_parameters()
                                        if p.grad is not None}))
    finally:
        # transformers 5's name; 4.x has only the old one.
        getattr(mllm.llm, "activation_checkpointing_disable",
                mllm.llm.gradient_checkpointing_disable)()
        mllm.eval()
    (full, full_grads), (ours, our_grads) = grads
    assert ours == pytest.approx(full, abs=1e-5)
    assert set(our_grads) == set(full_grads)
    for name, grad in full_grads.items():
        torch.testing.assert_close(our_grads[name], grad, atol=1e-5, rtol=1e-4, msg=name)


def test_the_last_layer_queries_only_the_loss_rows_in_training(mllm: MLLM) -> None:
    ids, mask, pixels = inputs(mllm)
    labels = torch.full_like(ids, IGNORE_INDEX)
    labels[:, -1] = ids[:, -1]
    seen = []
    attention = mllm.llm.get_decoder().layers[-1].self_attn
    handles = [attention.q_proj.register_forward_pre_hook(
        lambda _m, args: seen.append(("q", tuple(args[0].shape)))),
        attention.k_proj.register_forward_pre_hook(
        lambda _m, args: seen.append(("k", tuple(args[0].shape))))]
    try:
        with torch.no_grad():
            mllm(ids, mask, pixels, labels=labels)
            mllm.generate(ids, mask, pixels, max_new_tokens=1)  # generation: every row
    finally:
        for handle in handles:
            handle.remove()
    width = mllm.llm.config.hidden_size
    # Training: one query per sequence (the loss row), keys and values everywhere.
    assert seen[:2] == [("q", (2, 1, width)), ("k", (*ids.shape, width))]
    assert seen[2:4] == [("q", (*ids.shape, width)), ("k", (*ids.shape, width))]
