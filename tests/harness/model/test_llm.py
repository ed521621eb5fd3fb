"""The fixed LLM: the tiny random one, and a real Hugging Face causal LM loaded from a folder
(saved here from a tiny config, then read back through the same code a hub model takes)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from harness.errors import HarnessError
from harness.model.chat import prompt_ids, segments, tokenize_conversation
from harness.model.llm import IMAGE_TOKEN, LLMS, build_llm, image_token_id, resolve_llm
from harness.model.mllm import IGNORE_INDEX

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def plain_tokenizer() -> PreTrainedTokenizerFast:
    """A tokenizer that has never heard of <image>, like every hub LLM's."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(["hello there, how many dogs"] * 4, trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<s>", "</s>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>")


@pytest.fixture(scope="module")
def saved_llm(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("llm")
    tokenizer = plain_tokenizer()
    tokenizer.chat_template = CHATML
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_tiny_llm_is_built_from_its_config() -> None:
    llm, tok = build_llm(LLMS.get("tiny-llama"), ["a red circle"] * 3)
    assert llm.config.hidden_size == 128 and llm.config.vocab_size == len(tok)
    assert tok.convert_ids_to_tokens(image_token_id(tok)) == IMAGE_TOKEN


def test_hf_llm_loads_from_a_folder_and_gains_the_image_token(saved_llm: Path) -> None:
    spec = resolve_llm(f"hf:{saved_llm}")
    assert spec.source == str(saved_llm)
    llm, tok = build_llm(spec, corpus=[])
    image = image_token_id(tok)
    assert image == len(tok) - 1 and llm.get_input_embeddings().num_embeddings == len(tok)
    assert tok.pad_token == tok.eos_token
    saved = LlamaForCausalLM.from_pretrained(saved_llm)
    ids = torch.tensor([[1, 5, 9]])
    assert torch.allclose(llm(ids).logits[..., : saved.config.vocab_size], saved(ids).logits)


def test_unknown_llm_names() -> None:
    with pytest.raises(HarnessError,
                       match="unknown LLM 'gpt-9'; valid: smollm2-135m-instruct, tiny-llama"):
        resolve_llm("gpt-9")
    with pytest.raises(HarnessError, match="cannot load LLM '/no/such/folder'"):
        build_llm(resolve_llm("hf:/no/such/folder"), corpus=[])


def test_chat_template_masks_all_but_the_replies(saved_llm: Path) -> None:
    _, tok = build_llm(resolve_llm(f"hf:{saved_llm}"), corpus=[])
    turns = [{"from": "human", "value": "<image>\nhow many dogs"}, {"from": "gpt", "value": "two"},
             {"from": "human", "value": "hello"}, {"from": "gpt", "value": "there"}]
    parts = segments(turns, tok, system="Be brief.")
    assert [trained for _, trained in parts] == [False, True, False, True]
    assert parts[1][0] == "two<|im_end|>\n" and parts[3][0] == "there<|im_end|>\n"
    assert parts[0][0].startswith("<|im_start|>system\nBe brief.")
    t = tokenize_conversation(turns, tok, num_image_tokens=3, max_length=512,
                              system="Be brief.")
    trained = tok.decode([i for i, lab in zip(t.input_ids, t.labels, strict=True)
                          if lab != IGNORE_INDEX])
    assert trained == "two<|im_end|>\nthere<|im_end|>\n"
    prefix = prompt_ids(turns[0]["value"], tok, num_image_tokens=3, system="Be brief.")
    assert t.input_ids[: len(prefix)] == prefix
    assert tok.decode(prefix).endswith("<|im_start|>assistant\n")
