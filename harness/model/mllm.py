"""The MLLM: encoder -> connector -> causal LM, with image tokens spliced into the text.

Each ``<image>`` placeholder in the text is expanded to as many image-token ids as the encoder
yields tokens, and those positions' embeddings are replaced by the connector's output (the
layout transformers' own LLaVA uses), so a batch is one tensor with no per-sample splicing.
"""

from __future__ import annotations

import torch
from torch import nn

from harness.encoder import Encoder

IGNORE_INDEX = -100  # label of tokens that carry no loss (prompt, image, padding)


class MLLM(nn.Module):
    def __init__(self, encoder: Encoder, connector: nn.Module, llm: nn.Module,
                 image_token_id: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.connector = connector
        self.llm = llm
        self.image_token_id = image_token_id

    @property
    def num_image_tokens(self) -> int:
        return self.connector.num_tokens

    def visual_tokens(self, pixels: torch.Tensor | None,
                      image_features: list[torch.Tensor] | None = None) -> torch.Tensor:
        if image_features is not None:
            # Features a frozen encoder made earlier (harness.data.feature_cache), one
            # [B, h*w, C] per encoder: the encoder does not run.
            return self.connector(list(image_features))
        if self.encoder.trainable:
            features = self.encoder(pixels)
        else:
            with torch.no_grad():  # a frozen encoder keeps no activations for backward
                features = self.encoder(pixels)
        return self.connector([features])

    def embed(self, input_ids: torch.Tensor, pixels: torch.Tensor | None,
              image_features: list[torch.Tensor] | None = None) -> torch.Tensor:
        embeds = self.llm.get_input_embeddings()(input_ids)
        slots = input_ids == self.image_token_id
        if pixels is None and image_features is None:
            if slots.any():
                raise ValueError("text has image tokens but no image was given")
            return embeds
        visual = self.visual_tokens(pixels, image_features).to(embeds.dtype)
        if slots.sum() != visual.shape[0] * visual.shape[1]:
            raise ValueError(
                f"{int(slots.sum())} image-token slots for {visual.shape[0]}x{visual.shape[1]}"
                " visual tokens: was the text truncated into the image?"
            )
        return embeds.masked_scatter(slots.unsqueeze(-1), visual)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                pixels: torch.Tensor | None, labels: torch.Tensor,
                image_features: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Mean next-token loss over the labelled (answer) tokens."""
        hidden = self.llm.get_decoder()(
            inputs_embeds=self.embed(input_ids, pixels, image_features),
            attention_mask=attention_mask,
        ).last_hidden_state
        # Only answer positions need logits: projecting just those onto the vocabulary skips
        # most of the LM head's work (answers are a few tokens; prompts and images are many).
        targets = labels[:, 1:]
        keep = targets != IGNORE_INDEX
        logits = self.llm.get_output_embeddings()(hidden[:, :-1][keep])
        return nn.functional.cross_entropy(logits.float(), targets[keep])

    @torch.no_grad()
    def generate(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                 pixels: torch.Tensor | None, max_new_tokens: int,
                 image_features: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Greedy decoding with the KV cache; returns only the new tokens. Expects left padding."""
        return self.llm.generate(
            inputs_embeds=self.embed(input_ids, pixels, image_features),
            attention_mask=attention_mask,
            max_new_tokens=max_new_tokens,
            do_sample=False,
        )
