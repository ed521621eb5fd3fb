"""The fixed causal LM that measures every encoder: any Hugging Face causal LM, or a tiny one
built from a config with random weights and a tokenizer trained locally (smoke runs)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import torch
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from harness.config import KEPT_OUT_AT_DEFAULT
from harness.registry import Registry

IMAGE_TOKEN = "<image>"


@dataclass(frozen=True)
class LLMSpec:
    """The fixed LLM: a Hugging Face causal LM (``source`` = hub id or local folder), or, with
    no source, a tiny Llama built from the fields below with random weights."""

    id: str
    description: str
    source: str | None = None
    """Hub id or local folder for ``AutoModelForCausalLM.from_pretrained``."""
    revision: str | None = field(default=None, metadata={KEPT_OUT_AT_DEFAULT: True})
    """The hub revision (a commit) the weights are pinned to: ``hf:<id>@<revision>``."""
    hidden_size: int = 128
    intermediate_size: int = 344
    num_layers: int = 2
    num_heads: int = 4
    vocab_size: int = 1024
    max_positions: int = 1024
    system_prompt: str = ""
    """Put before the first user turn (LLaVA's chat models use one; the tiny LLM does not)."""


LLMS: Registry[LLMSpec] = Registry("LLM", None, name_of=lambda s: s.id, item_type=LLMSpec)
LLMS.register(LLMSpec(
    id="tiny-llama",
    description="Llama, hidden 128, 2 layers, random weights, byte-level BPE trained locally",
))
HF_PREFIX = "hf:"


def resolve_llm(name: str) -> LLMSpec:
    """A registered LLM, or ``hf:<hub id or folder>`` for any Hugging Face causal LM."""
    if name.startswith(HF_PREFIX) and len(name) > len(HF_PREFIX):
        source, _, revision = name[len(HF_PREFIX):].partition("@")
        return LLMSpec(id=name, description="Hugging Face causal LM", source=source,
                       revision=revision or None)
    if name not in LLMS:
        LLMS.get(name)  # raises, listing the registered names
    return LLMS.get(name)


def image_token_id(tokenizer) -> int:
    return tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)


def load_pretrained_llm(source: str, revision: str | None = None):
    """A hub or local causal LM (at ``revision`` when pinned) and its tokenizer, with the
    image token added if missing."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness.errors import HarnessError

    try:
        tokenizer = AutoTokenizer.from_pretrained(source, revision=revision)
        model = AutoModelForCausalLM.from_pretrained(source, revision=revision,
                                                     dtype=torch.float32)
    except OSError as exc:
        raise HarnessError(
            f"cannot load LLM {source!r} (a hub id, or a local folder when offline): "
            f"{str(exc).splitlines()[0]}") from None
    if IMAGE_TOKEN not in tokenizer.get_vocab():
        tokenizer.add_special_tokens({"additional_special_tokens": [IMAGE_TOKEN]})
        model.resize_token_embeddings(len(tokenizer))
    if tokenizer.pad_token is None:
        # Padding is masked out everywhere, so any existing token serves; eos is customary.
        tokenizer.pad_token = tokenizer.eos_token
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def train_tokenizer(corpus: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained on ``corpus`` in milliseconds; any text encodes."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<pad>", "<s>", "</s>", IMAGE_TOKEN],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
        extra_special_tokens={"image_token": IMAGE_TOKEN},
    )


def build_llm(spec: LLMSpec, corpus: Iterable[str],
              tokenizer: PreTrainedTokenizerFast | None = None
              ) -> tuple[LlamaForCausalLM, PreTrainedTokenizerFast]:
    """The LLM and its tokenizer: loaded from ``spec.source``, or the tiny random one with a
    tokenizer trained on ``corpus`` (or the given ``tokenizer``, one a run saved)."""
    if spec.source:
        return load_pretrained_llm(spec.source, spec.revision)
    if tokenizer is None:
        tokenizer = train_tokenizer(corpus, spec.vocab_size)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_layers,
        num_attention_heads=spec.num_heads,
        num_key_value_heads=spec.num_heads,
        max_position_embeddings=spec.max_positions,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model.to(torch.float32), tokenizer
