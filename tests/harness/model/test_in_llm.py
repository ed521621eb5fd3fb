"""In-LLM aggregation: ``sva``'s modules follow chosen decoder layers and rewrite the image
tokens' hidden states (never the newlines or the text), ``sva-lite(every=k)``'s precede them;
both train, generate, and give the same loss and gradients with checkpointed layers."""

from __future__ import annotations

import pytest
import torch

from harness.encoder import ENCODERS
from harness.loaders import build_encoder
from harness.model.connector_parts import FeatureShape
from harness.model.connectors import CONNECTORS
from harness.model.llm import LLMS, build_llm, image_token_id
from harness.model.mllm import MLLM
from harness.sweep.model import enable_gradient_checkpointing

CONNECTOR = {
    "sva": "sva(grid=4,hidden=16,heads=2,layers=1)",
    "sva-lite": "sva-lite(every=3,heads=2)",
}


def build(kind: str) -> MLLM:
    torch.manual_seed(0)
    encoders = [build_encoder(ENCODERS.get(i), tiny=True)
                for i in ("clip-vit-l14-224.openai", "dinov2-vit-l14-518.lvd142m")]
    llm, tok = build_llm(LLMS.get("tiny-llama"), ["a red circle left of a blue square"] * 3)
    shapes = [FeatureShape(e.embed_dim, e.grid) for e in encoders]
    connector = CONNECTORS.get(CONNECTOR[kind]).create(shapes, llm.config.hidden_size)
    model = MLLM(encoders, connector, llm, image_token_id(tok))
    if kind == "sva-lite":  # its outputs start at zero: move them so the modules matter
        for module in model.connector.reaggregation.values():
            torch.nn.init.normal_(module.out.weight, std=0.5)
    return model


@pytest.fixture(params=sorted(CONNECTOR))
def model(request: pytest.FixtureRequest) -> MLLM:
    return build(request.param)


def batch(model: MLLM):
    n = model.num_image_tokens
    ids = torch.tensor([[1] + [model.image_token_id] * n + [40, 41, 42]] * 2)
    pixels = [torch.randn(2, 3, e.image_size, e.image_size) for e in model.encoders]
    labels = torch.full_like(ids, -100)
    labels[:, -2:] = ids[:, -2:]
    return ids, torch.ones_like(ids), pixels, labels


def plain_loss(model: MLLM, ids, mask, pixels, labels) -> torch.Tensor:
    """The loss with the modules disarmed: the LLM as the connector alone would feed it."""
    embeds = model.embed(ids, pixels)
    model._armed = None
    return model.llm(inputs_embeds=embeds, attention_mask=mask, labels=labels).loss


def test_the_modules_sit_where_the_rule_says() -> None:
    sva, lite = build("sva"), build("sva-lite")
    assert sva.in_llm_layers == lite.in_llm_layers == [0]  # the tiny LLM has 2 layers
    assert len(sva.connector.in_llm) == 1
    assert lite.connector.attach_llm(7) == [0, 3, 6]


def test_only_the_image_tokens_change(model: MLLM) -> None:
    ids, mask, pixels, _ = batch(model)
    seen = {}
    # The input of the layer after sva's module (its output), or of the layer sva-lite's
    # module precedes (registered after the MLLM's own hook, this one sees its result).
    after = model.connector.in_llm_placement == "after"
    layer = model.llm.get_decoder().layers[model.in_llm_layers[0] + (1 if after else 0)]

    def capture(module, args, kwargs) -> None:
        seen["input"] = args[0] if args else kwargs["hidden_states"]

    embeds = model.embed(ids, pixels)
    handle = layer.register_forward_pre_hook(capture, with_kwargs=True)
    with torch.no_grad():
        model.llm.get_decoder()(inputs_embeds=embeds, attention_mask=mask)
        armed = seen.pop("input")
        model._armed = None
        model.llm.get_decoder()(inputs_embeds=embeds, attention_mask=mask)
        plain = seen.pop("input")
    handle.remove()
    slots = ids == model.image_token_id
    image = slots.clone()
    image[slots] = model.connector.image_positions().repeat(2)
    assert torch.equal(armed[~image], plain[~image])  # text and newlines untouched
    assert not torch.allclose(armed[image], plain[image])
    if after:
        assert (slots & ~image).any()  # sva: newline slots exist and were left alone


def test_the_modules_train(model: MLLM) -> None:
    ids, mask, pixels, labels = batch(model)
    loss = model(ids, mask, pixels, labels=labels)
    assert abs(loss.item() - plain_loss(model, ids, mask, pixels, labels).item()) > 1e-4
    model.zero_grad(set_to_none=True)
    model(ids, mask, pixels, labels=labels).backward()
    modules = getattr(model.connector, "in_llm", None) or model.connector.reaggregation
    for module in (modules.values() if hasattr(modules, "values") else modules):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())


def test_checkpointed_layers_give_the_same_loss_and_gradients(model: MLLM) -> None:
    ids, mask, pixels, labels = batch(model)
    model.train()
    model.zero_grad(set_to_none=True)
    plain = model(ids, mask, pixels, labels=labels)
    plain.backward()
    grads = {n: p.grad.clone() for n, p in model.connector.named_parameters()
             if p.grad is not None}
    enable_gradient_checkpointing(model.llm)
    model.zero_grad(set_to_none=True)
    checkpointed = model(ids, mask, pixels, labels=labels)
    checkpointed.backward()
    assert checkpointed.item() == pytest.approx(plain.item(), rel=1e-6)
    for name, grad in grads.items():
        assert torch.allclose(model.connector.get_parameter(name).grad, grad, atol=1e-6), name


def test_generation_sees_the_aggregated_prompt(model: MLLM) -> None:
    ids, mask, pixels, _ = batch(model)
    with torch.no_grad():
        hidden = model.llm.get_decoder()(inputs_embeds=model.embed(ids, pixels),
                                         attention_mask=mask).last_hidden_state
        first = model.llm.get_output_embeddings()(hidden[:, -1]).argmax(-1)
    new = model.generate(ids, mask, pixels, max_new_tokens=2)
    assert torch.equal(new[:, 0], first)
