"""SVA re-aggregation inside LLM layers (``sva-llm``): the image tokens' hidden states query
their windows again at the chosen decoder layers, in training and in generation alike."""

from __future__ import annotations

import pytest
import torch

from harness.encoder import ENCODERS, build_encoder
from harness.model.connectors import CONNECTORS, FeatureShape
from harness.model.llm import LLMS, build_llm, image_token_id
from harness.model.mllm import MLLM


@pytest.fixture
def model() -> MLLM:
    torch.manual_seed(0)
    encoders = [build_encoder(ENCODERS.get(i), tiny=True)
                for i in ("clip-vit-l14-224.openai", "dinov2-vit-l14-518.lvd142m")]
    llm, tok = build_llm(LLMS.get("tiny-llama"), ["a red circle left of a blue square"] * 3)
    shapes = [FeatureShape(e.embed_dim, e.grid) for e in encoders]
    connector = CONNECTORS.get("sva-llm").create(shapes, llm.config.hidden_size, heads=2)
    return MLLM(encoders, connector, llm, image_token_id(tok))


def batch(model: MLLM):
    n = model.num_image_tokens
    ids = torch.tensor([[1] + [model.image_token_id] * n + [40, 41, 42]] * 2)
    pixels = [torch.randn(2, 3, e.image_size, e.image_size) for e in model.encoders]
    labels = torch.full_like(ids, -100)
    labels[:, -2:] = ids[:, -2:]
    return ids, torch.ones_like(ids), pixels, labels


def reference_loss(model: MLLM, ids, mask, pixels, labels) -> torch.Tensor:
    """The loss with the hooks disarmed: the LLM as plain SVA would feed it."""
    embeds = model.embed(ids, pixels)
    model._armed = None
    return model.llm(inputs_embeds=embeds, attention_mask=mask, labels=labels).loss


def randomize_outputs(model: MLLM) -> None:
    for module in model.connector.reaggregation.values():
        torch.nn.init.normal_(module.out.weight, std=0.5)


def test_layers_chosen_every_third_from_the_first(model: MLLM) -> None:
    assert model.reaggregation_layers == [0]  # the tiny LLM has 2 layers
    assert model.connector.attach_llm(7) == [0, 3, 6]


def test_starts_as_plain_sva_and_disarms_after_one_pass(model: MLLM) -> None:
    ids, mask, pixels, labels = batch(model)
    loss = model(ids, mask, pixels, labels=labels)
    assert model._armed is None  # used by the pass after embed, never again
    assert loss.item() == pytest.approx(reference_loss(model, ids, mask, pixels, labels).item(),
                                        abs=1e-6)


def test_changes_only_image_positions_and_trains(model: MLLM) -> None:
    randomize_outputs(model)
    ids, mask, pixels, labels = batch(model)
    seen = {}

    def capture(module, args, kwargs) -> None:
        seen["input"] = args[0] if args else kwargs["hidden_states"]

    # Registered after the MLLM's own hook, so it sees the re-aggregated input of layer 0.
    handle = model.llm.get_decoder().layers[0].register_forward_pre_hook(capture,
                                                                         with_kwargs=True)
    embeds = model.embed(ids, pixels)
    model.llm.get_decoder()(inputs_embeds=embeds, attention_mask=mask)
    handle.remove()
    slots = ids == model.image_token_id
    assert torch.equal(seen["input"][~slots], embeds[~slots])
    assert not torch.allclose(seen["input"][slots], embeds[slots])

    loss = model(ids, mask, pixels, labels=labels)
    assert abs(loss.item() - reference_loss(model, ids, mask, pixels, labels).item()) > 1e-4
    model.zero_grad(set_to_none=True)
    model(ids, mask, pixels, labels=labels).backward()
    for name, module in model.connector.reaggregation.items():
        for part in (module.into, module.attend, module.out):
            assert any(p.grad is not None and p.grad.abs().sum() > 0
                       for p in part.parameters()), name


def test_generation_sees_the_reaggregated_prompt(model: MLLM) -> None:
    randomize_outputs(model)
    ids, mask, pixels, _ = batch(model)
    with torch.no_grad():
        hidden = model.llm.get_decoder()(inputs_embeds=model.embed(ids, pixels),
                                         attention_mask=mask).last_hidden_state
        first = model.llm.get_output_embeddings()(hidden[:, -1]).argmax(-1)
    new = model.generate(ids, mask, pixels, max_new_tokens=2)
    assert torch.equal(new[:, 0], first)
    assert model._armed is None
