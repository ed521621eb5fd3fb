"""The MLLM: encoder(s) -> connector -> causal LM, with image tokens spliced into the text.

Each ``<image>`` marker in the text is expanded to as many image-token ids as the connector
yields tokens, and those positions' embeddings are replaced by the connector's output (the
layout transformers' own LLaVA uses), so a batch is one tensor with no per-sample splicing.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import torch
from torch import nn

from harness.encoder import Encoder
from harness.model.ensemble import EncoderGroup, Pixels, combine, members
from harness.model.last_layer import LastLayerAtRows, take_positions

IGNORE_INDEX = -100  # label of tokens that carry no loss (prompt, image, padding)


class MLLM(nn.Module):
    """``encoder`` is one encoder or a list of them (each then gets its own pixels, see
    ``harness.model.ensemble``); the connector receives every encoder's tokens, in order.
    A single encoder is held as ``self.encoder`` itself, several as an ``EncoderGroup``."""

    def __init__(self, encoder: Encoder | Sequence[Encoder], connector: nn.Module,
                 llm: nn.Module, image_token_id: int) -> None:
        super().__init__()
        self.encoder = encoder if isinstance(encoder, nn.Module) else combine(list(encoder))
        self.connector = connector
        self.llm = llm
        self.image_token_id = image_token_id
        # A connector with in-LLM modules (sva) gets a hook on each decoder layer they
        # follow (or precede); ``embed`` arms them with the batch's windows.
        attach = getattr(connector, "attach_llm", None)
        self.in_llm_layers: list[int] = attach(len(llm.get_decoder().layers)) \
            if attach else []
        self._armed: tuple[torch.Tensor, object] | None = None
        self._last_layer = LastLayerAtRows.of(llm.get_decoder().layers[-1])
        after = getattr(connector, "in_llm_placement", "before") == "after"
        for index in self.in_llm_layers:
            layer = llm.get_decoder().layers[index]
            if after:
                layer.register_forward_hook(partial(self._after_layer, index), with_kwargs=True)
            else:
                layer.register_forward_pre_hook(partial(self._before_layer, index),
                                                with_kwargs=True)

    @property
    def encoders(self) -> list[Encoder]:
        """Every encoder, in the order the connector receives their tokens."""
        return members(self.encoder)

    @property
    def num_image_tokens(self) -> int:
        return self.connector.num_tokens

    def encode(self, pixels: Pixels) -> list[torch.Tensor]:
        """Each encoder's tokens ``[B, h_k*w_k, C_k]``."""
        if self.encoder.trainable:
            features = self.encoder(pixels)
        else:
            with torch.no_grad():  # a frozen encoder keeps no activations for backward
                features = self.encoder(pixels)
        return features if isinstance(self.encoder, EncoderGroup) else [features]

    def features(self, pixels: Pixels | None,
                 image_features: list[torch.Tensor] | None = None) -> list[torch.Tensor]:
        """Each encoder's tokens: given (features a frozen encoder made earlier, from
        harness.data.feature_cache, one ``[B, h*w, C]`` per encoder; the encoders do not
        run), or computed from the pixels."""
        return list(image_features) if image_features is not None else self.encode(pixels)

    def visual_tokens(self, pixels: Pixels | None,
                      image_features: list[torch.Tensor] | None = None) -> torch.Tensor:
        return self.connector(self.features(pixels, image_features))

    def embed(self, input_ids: torch.Tensor, pixels: Pixels | None,
              image_features: list[torch.Tensor] | None = None) -> torch.Tensor:
        """The LLM's input embeddings with the visual tokens in the image slots. With
        re-aggregation, also arms the LLM layers' hooks for the next decoder pass."""
        self._armed = None
        self._read_only(None)
        embeds = self.llm.get_input_embeddings()(input_ids)
        slots = input_ids == self.image_token_id
        if pixels is None and image_features is None:
            if slots.any():
                raise ValueError("text has image tokens but no image was given")
            return embeds
        if self.in_llm_layers:
            visual, keys = self.connector.forward_with_keys(
                self.features(pixels, image_features))
            # Which slots the in-LLM modules rewrite: the image tokens, not the newlines.
            image = self.connector.image_positions().to(slots.device)
            targets = slots.clone()
            targets[slots] = image.repeat(visual.shape[0])
            self._armed = (targets, keys)
        else:
            visual = self.visual_tokens(pixels, image_features)
        visual = visual.to(embeds.dtype)
        if slots.sum() != visual.shape[0] * visual.shape[1]:
            raise ValueError(
                f"{int(slots.sum())} image-token slots for {visual.shape[0]}x{visual.shape[1]}"
                " visual tokens: was the text truncated into the image?"
            )
        return embeds.masked_scatter(slots.unsqueeze(-1), visual)

    def _read_only(self, rows: torch.Tensor | None) -> None:
        if self._last_layer is not None:
            self._last_layer.rows = rows

    def final_hidden_at(self, embeds: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """The decoder's final hidden states at ``positions`` (``[batch, k]``, each row's own):
        one causal pass with no mask, so pads may only follow a row's real tokens (right
        padding). No KV cache is kept, and the last layer runs at those positions alone."""
        read = torch.zeros(embeds.shape[:2], dtype=torch.bool, device=embeds.device)
        self._read_only(read.scatter_(1, positions, True))
        try:
            hidden = self.llm.get_decoder()(inputs_embeds=embeds,
                                            use_cache=False).last_hidden_state
        finally:
            self._read_only(None)
        return take_positions(hidden, positions)

    def _aggregate(self, index: int, hidden: torch.Tensor) -> torch.Tensor | None:
        """The hidden states with the image tokens aggregated again by the in-LLM module of
        layer ``index``; None when this pass is not the one ``embed`` armed (a generation
        step after the prompt reads the image from the KV cache). The arming stays until the
        next ``embed``: a checkpointed layer recomputed in the backward pass sees it again."""
        if self._armed is None:
            return None
        targets, keys = self._armed
        if hidden.shape[:2] != targets.shape:
            return None
        states = hidden[targets].reshape(targets.shape[0], -1, hidden.shape[-1])
        fresh = self.connector.in_llm_layer(index, states, keys)
        return hidden.masked_scatter(targets.unsqueeze(-1), fresh.to(hidden.dtype))

    def _before_layer(self, index: int, layer: nn.Module, args: tuple, kwargs: dict):
        hidden = self._aggregate(index, args[0] if args else kwargs["hidden_states"])
        if hidden is None:
            return None
        if args:
            return (hidden, *args[1:]), kwargs
        return args, {**kwargs, "hidden_states": hidden}

    def _after_layer(self, index: int, layer: nn.Module, args: tuple, kwargs: dict, output):
        # A decoder layer returns its hidden states, alone or first in a tuple (by version).
        first = output[0] if isinstance(output, tuple) else output
        hidden = self._aggregate(index, first)
        if hidden is None:
            return None
        return (hidden, *output[1:]) if isinstance(output, tuple) else hidden

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                pixels: Pixels | None, labels: torch.Tensor,
                image_features: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Mean next-token loss over the labelled (answer) tokens."""
        embeds = self.embed(input_ids, pixels, image_features)
        targets = labels[:, 1:]
        keep = targets != IGNORE_INDEX
        # The last layer runs in full only where a logit is taken (harness.model.last_layer);
        # the rows stay set for a checkpointed layer's recomputation in the backward pass.
        self._read_only(nn.functional.pad(keep, (0, 1)))
        # No KV cache: a training pass never decodes further, and an LLM's config (SmolLM2's,
        # the tiny Llama's) would otherwise have every layer fill one.
        hidden = self.llm.get_decoder()(
            inputs_embeds=embeds, attention_mask=attention_mask,
            use_cache=False).last_hidden_state
        # Only answer positions need logits: projecting just those onto the vocabulary skips
        # most of the LM head's work (answers are a few tokens; prompts and images are many).
        logits = self.llm.get_output_embeddings()(hidden[:, :-1][keep])
        return nn.functional.cross_entropy(logits.float(), targets[keep])

    @torch.no_grad()
    def generate(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                 pixels: Pixels | None, max_new_tokens: int,
                 image_features: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Greedy decoding with the KV cache; returns only the new tokens. Expects left padding."""
        return self.llm.generate(
            inputs_embeds=self.embed(input_ids, pixels, image_features),
            attention_mask=attention_mask,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            # Each process decodes its own items (under FSDP with its parameters gathered
            # first, harness.parallel): never wait for the other processes' decoding.
            synced_gpus=False,
        )
