"""The LLM's last decoder layer, run only at the positions whose output is read.

Only the final norm and the LM head follow the last layer, so a position whose logits nobody
reads needs nothing from that layer but its keys and values, which the read positions attend
to. Training reads the position before each answer token; option scoring reads the end of each
prompt. That is a few positions out of hundreds of image and prompt tokens.

``LastLayerAtRows`` takes over the forward of a transformers ``LlamaDecoderLayer`` (Llama,
Vicuna, SmolLM2, ...) while ``rows`` is set. Every position gets its keys and values; only the
rows get queries, attention, the output projection and the MLP. Other positions come out as
zeros. The layer's own modules do the work, so the state dict keeps its keys. Without rows, or
with a KV cache, the layer runs as transformers wrote it.
"""

from __future__ import annotations

import torch
import transformers
from torch import nn
from transformers.models.llama.modeling_llama import LlamaDecoderLayer, repeat_kv, rotate_half

# The attention implementations whose mask is None (causal, no padding) or a 4-D
# [batch, 1, query, key] mask, boolean or additive; flash-attention's 2-D mask is another form.
MASK_IMPLEMENTATIONS = ("sdpa", "eager")
# transformers 5's layer calling convention: the hidden states returned alone, the KV cache
# passed as ``cache``. Some 4.x releases return a tuple; there the layer is left as written.
CONVENTION_SINCE = 5


class LastLayerAtRows:
    """``rows`` (``[batch, length]``, True where the output is read) is kept until it is set
    again, so a checkpointed layer recomputed in the backward pass sees the same rows."""

    def __init__(self, layer: LlamaDecoderLayer) -> None:
        self.rows: torch.Tensor | None = None
        self._layer = layer
        self._full_forward = layer.forward
        # An instance attribute: nn.Module.__call__ (and the gradient-checkpointing and FSDP
        # wrappers around it) call it in place of the class's forward.
        layer.forward = self._forward

    @classmethod
    def of(cls, layer: nn.Module) -> LastLayerAtRows | None:
        """For a Llama decoder layer under SDPA or eager attention (transformers 5); None
        otherwise."""
        config = getattr(getattr(layer, "self_attn", None), "config", None)
        implementation = getattr(config, "_attn_implementation", None)
        major = int(transformers.__version__.split(".")[0])
        if isinstance(layer, LlamaDecoderLayer) and implementation in MASK_IMPLEMENTATIONS \
                and major >= CONVENTION_SINCE:
            return cls(layer)
        return None

    def _forward(self, *args, **kwargs) -> torch.Tensor:
        hidden = args[0] if args else kwargs["hidden_states"]
        rows = self.rows
        cache = kwargs.get("cache", kwargs.get("past_key_values"))
        if rows is None or cache is not None or hidden.shape[:2] != rows.shape \
                or kwargs.get("position_embeddings") is None:
            return self._full_forward(*args, **kwargs)
        return self._at_rows(hidden, rows, kwargs.get("attention_mask"),
                             kwargs["position_embeddings"])

    def _at_rows(self, hidden: torch.Tensor, rows: torch.Tensor, mask: torch.Tensor | None,
                 position_embeddings: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        layer, attn = self._layer, self._layer.self_attn
        batch, length, width = hidden.shape
        at, valid = read_positions(rows)
        span = at.shape[1]

        normed = layer.input_layernorm(hidden)
        query = attn.q_proj(take_positions(normed, at)).view(batch, span, -1, attn.head_dim)
        key = attn.k_proj(normed).view(batch, length, -1, attn.head_dim).transpose(1, 2)
        value = attn.v_proj(normed).view(batch, length, -1, attn.head_dim).transpose(1, 2)
        cos, sin = (t.expand(batch, -1, -1) for t in position_embeddings)
        # Rotary embedding exactly as transformers applies it, the queries at their positions.
        query = _rotate(query.transpose(1, 2), take_positions(cos, at), take_positions(sin, at))
        key = _rotate(key, cos, sin)
        attended = nn.functional.scaled_dot_product_attention(
            query, repeat_kv(key, attn.num_key_value_groups),
            repeat_kv(value, attn.num_key_value_groups),
            attn_mask=_query_mask(mask, at, length),
            dropout_p=attn.attention_dropout if attn.training else 0.0, scale=attn.scaling)
        residual = take_positions(hidden, at) + attn.o_proj(attended.transpose(1, 2).reshape(
            batch, span, -1))
        out = residual + layer.mlp(layer.post_attention_layernorm(residual))
        full = hidden.new_zeros(hidden.shape)
        full[rows] = out[valid]
        return full


def read_positions(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``rows`` as positions: ``at[b, k]`` is row b's k-th read position, in order. A row with
    fewer reads is filled with its last position, a real query under any padding (so its
    attention never comes out empty); ``valid`` says which entries are reads."""
    length = rows.shape[1]
    counts = rows.sum(1, keepdim=True)
    span = max(int(counts.max()), 1)
    # A stable sort puts each row's read positions (False in ~rows) first, in order.
    at = torch.sort((~rows).to(torch.uint8), dim=1, stable=True).indices[:, :span]
    valid = torch.arange(span, device=rows.device) < counts
    return torch.where(valid, at, length - 1), valid


def take_positions(x: torch.Tensor, at: torch.Tensor) -> torch.Tensor:
    """``x[b, at[b, k]]`` for ``x`` of shape ``[batch, length, width]``."""
    return x.gather(1, at[..., None].expand(-1, -1, x.shape[-1]))


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    return x * cos[:, None] + rotate_half(x) * sin[:, None]


def _query_mask(mask: torch.Tensor | None, at: torch.Tensor, length: int) -> torch.Tensor:
    """The rows of the layer's 4-D attention mask that belong to the read positions; a causal
    mask from the positions when transformers passed none (no padding)."""
    if mask is None:
        return (torch.arange(length, device=at.device) <= at[..., None])[:, None]
    mask = mask.expand(at.shape[0], -1, -1, -1)
    return mask.gather(2, at[:, None, :, None].expand(-1, mask.shape[1], -1, mask.shape[-1]))
