"""The last layer run at the read rows alone gives what the whole layer gives there, with any
padding, grouped-query attention, either attention implementation, and in the backward pass."""

from __future__ import annotations

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

from harness.model.last_layer import LastLayerAtRows, read_positions


def llama(attention: str, kv_heads: int) -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=64, intermediate_size=96,
                         num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=kv_heads, max_position_embeddings=64,
                         attn_implementation=attention)
    return LlamaForCausalLM(config).eval()


def padded(padding: str) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """An attention mask and position ids for 3 sequences of 12 tokens, two of them padded."""
    if padding == "none":
        return None, None
    lengths = torch.tensor([12, 9, 7])
    real = torch.arange(12) < lengths[:, None]
    if padding == "left":
        real = real.flip(1)
    mask = real.long()
    return mask, (mask.cumsum(1) - 1).clamp(min=0)


def read_rows(mask: torch.Tensor | None) -> torch.Tensor:
    """Some real positions per sequence, a different number in each, none in the last."""
    rows = torch.zeros(3, 12, dtype=torch.bool)
    real = torch.ones(3, 12, dtype=torch.bool) if mask is None else mask.bool()
    for b, count in enumerate((3, 1, 0)):
        rows[b, real[b].nonzero().flatten()[-count - 2:-2] if count else []] = True
    return rows


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
@pytest.mark.parametrize("kv_heads", [4, 2])
@pytest.mark.parametrize("padding", ["none", "right", "left"])
def test_rows_alone_give_the_full_layer_values_and_gradients(attention: str, kv_heads: int,
                                                             padding: str) -> None:
    model = llama(attention, kv_heads)
    decoder = model.get_decoder()
    mask, positions = padded(padding)
    rows = read_rows(mask)
    embeds = torch.randn(3, 12, 64)
    weights = torch.randn(3, 12, 64)
    results = []
    last = LastLayerAtRows.of(decoder.layers[-1])
    assert last is not None
    for read in (None, rows):
        model.zero_grad(set_to_none=True)
        inputs = embeds.clone().requires_grad_(True)
        last.rows = read
        hidden = decoder(inputs_embeds=inputs, attention_mask=mask, position_ids=positions,
                         use_cache=False).last_hidden_state
        (hidden[rows] * weights[rows]).sum().backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        results.append((hidden.detach(), inputs.grad.clone(), grads))
    (full, full_input_grad, full_grads), (ours, our_input_grad, our_grads) = results
    torch.testing.assert_close(ours[rows], full[rows], atol=1e-5, rtol=1e-5)
    assert not ours[~rows].any()  # nothing computed where nothing is read
    torch.testing.assert_close(our_input_grad, full_input_grad, atol=1e-5, rtol=1e-4)
    assert set(our_grads) == set(full_grads)
    for name, grad in full_grads.items():
        torch.testing.assert_close(our_grads[name], grad, atol=1e-5, rtol=1e-4, msg=name)


def test_without_rows_or_with_a_cache_the_layer_runs_as_written() -> None:
    model = llama("sdpa", 4)
    ids = torch.randint(0, 64, (2, 8))
    expected = model(ids).logits
    last = LastLayerAtRows.of(model.get_decoder().layers[-1])
    assert torch.equal(model(ids).logits, expected)
    last.rows = torch.ones(2, 8, dtype=torch.bool)
    # Generation keeps a cache: every position of the last layer is computed, as written.
    out = model(ids, use_cache=True)
    torch.testing.assert_close(out.logits, expected)


def test_read_positions_lists_each_rows_reads_in_order_filled_with_the_last_position() -> None:
    rows = torch.tensor([[0, 1, 0, 1, 1], [0, 0, 1, 0, 0], [0, 0, 0, 0, 0]], dtype=torch.bool)
    at, valid = read_positions(rows)
    assert at.tolist() == [[1, 3, 4], [2, 4, 4], [4, 4, 4]]
    assert valid.tolist() == [[True] * 3, [True, False, False], [False] * 3]


def test_only_a_llama_layer_under_a_4d_mask_attention_is_taken_over() -> None:
    qwen = Qwen2ForCausalLM(Qwen2Config(vocab_size=64, hidden_size=64, intermediate_size=96,
                                        num_hidden_layers=1, num_attention_heads=4,
                                        num_key_value_heads=4))
    assert LastLayerAtRows.of(qwen.get_decoder().layers[-1]) is None
    model = llama("sdpa", 4)
    model.config._attn_implementation = "flash_attention_2"
    assert LastLayerAtRows.of(model.get_decoder().layers[-1]) is None
