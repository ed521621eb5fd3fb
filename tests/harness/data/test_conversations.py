"""Tokenisation of LLaVA conversations: image expansion and loss on assistant tokens only."""

from __future__ import annotations

import pytest
import torch

from harness.data.conversations import pad_batch
from harness.errors import HarnessError
from harness.model.chat import encode_with_image, prompt_ids, tokenize_conversation
from harness.model.llm import image_token_id, train_tokenizer
from harness.model.mllm import IGNORE_INDEX


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(["How many red circles? A B C D left right USER ASSISTANT"] * 5, 300)


TURNS = [
    {"from": "human", "value": "<image>\nHow many red circles?"},
    {"from": "gpt", "value": "B"},
    {"from": "human", "value": "And blue?"},
    {"from": "gpt", "value": "left"},
]


def test_image_placeholder_becomes_n_image_tokens(tokenizer) -> None:
    ids = encode_with_image("<image>\nHi", tokenizer, num_image_tokens=5)
    assert ids[:5] == [image_token_id(tokenizer)] * 5
    assert image_token_id(tokenizer) not in ids[5:]


def test_only_assistant_tokens_carry_labels(tokenizer) -> None:
    t = tokenize_conversation(TURNS, tokenizer, num_image_tokens=4, max_length=512)
    assert len(t.input_ids) == len(t.labels)
    labelled = [i for i, label in zip(t.input_ids, t.labels, strict=True) if label != -100]
    expected = (tokenizer.encode(" B", add_special_tokens=False) + [tokenizer.eos_token_id]
                + tokenizer.encode(" left", add_special_tokens=False) + [tokenizer.eos_token_id])
    assert labelled == expected
    # Where a label is set it is the token itself (the model shifts), and image slots never are.
    for i, label in zip(t.input_ids, t.labels, strict=True):
        assert label in (IGNORE_INDEX, i)
        if i == image_token_id(tokenizer):
            assert label == IGNORE_INDEX
    assert tokenizer.decode(t.input_ids, skip_special_tokens=True).count("ASSISTANT:") == 2


def test_eval_prompt_is_the_training_prefix(tokenizer) -> None:
    t = tokenize_conversation(TURNS[:2], tokenizer, num_image_tokens=4, max_length=512)
    prefix = prompt_ids(TURNS[0]["value"], tokenizer, num_image_tokens=4)
    assert t.input_ids[: len(prefix)] == prefix
    assert all(label == IGNORE_INDEX for label in t.labels[: len(prefix)])
    assert t.labels[len(prefix)] != IGNORE_INDEX


def test_truncation_may_not_cut_the_image(tokenizer) -> None:
    with pytest.raises(HarnessError, match="cuts its image"):
        tokenize_conversation(TURNS, tokenizer, num_image_tokens=50, max_length=20)
    short = tokenize_conversation(TURNS, tokenizer, num_image_tokens=2, max_length=30)
    assert len(short.input_ids) == 30


def test_pad_batch_sides() -> None:
    batch = [{"input_ids": torch.tensor([5, 6, 7]), "labels": torch.tensor([-100, 6, 7]),
              "pixels": torch.zeros(3, 2, 2)},
             {"input_ids": torch.tensor([8]), "labels": torch.tensor([8]),
              "pixels": torch.ones(3, 2, 2)}]
    right = pad_batch(batch, pad_id=0, side="right")
    assert right["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert right["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert right["labels"].tolist() == [[-100, 6, 7], [8, -100, -100]]
    left = pad_batch(batch, pad_id=0, side="left")
    assert left["input_ids"].tolist() == [[5, 6, 7], [0, 0, 8]]
    assert left["pixels"].shape == (2, 3, 2, 2)


def test_unreadable_images_are_skipped_and_listed(tmp_path, tokenizer) -> None:
    from PIL import Image

    from harness.data.conversations import ConversationDataset

    Image.new("RGB", (8, 8)).save(tmp_path / "ok.png")
    (tmp_path / "torn.png").write_bytes(b"\x89PNG not really")
    records = [{"image": name, "conversations": TURNS[:2]}
               for name in ("ok.png", "torn.png", "missing.png")]
    ds = ConversationDataset(records, tmp_path, tokenizer, lambda img: torch.zeros(3, 2, 2),
                             num_image_tokens=2, max_length=128)
    items = [ds[i] for i in range(3)]
    assert "pixels" in items[0] and "unreadable" in items[1] and "unreadable" in items[2]
    # The findings travel with the batch (a DataLoader worker's dataset is a copy).
    batch = ds.collate(items)
    assert batch["input_ids"].shape[0] == 1
    assert set(batch["unreadable"]) == {str(tmp_path / "torn.png"),
                                        str(tmp_path / "missing.png")}
    assert batch["unreadable"][str(tmp_path / "missing.png")].startswith("FileNotFoundError")
    assert ds.collate(items[1:]).keys() == {"unreadable"}


def test_plain_format_is_llavas_vicuna_v1() -> None:
    from types import SimpleNamespace

    from harness.model.chat import segments

    tokenizer = SimpleNamespace(bos_token="<s>", eos_token="</s>", chat_template=None)
    turns = [{"from": "human", "value": "<image>\nq1"}, {"from": "gpt", "value": "a1"},
             {"from": "human", "value": "q2"}, {"from": "gpt", "value": "a2"}]
    pieces = segments(turns, tokenizer, system="SYS")
    # LLaVA's conv_vicuna_v1.get_prompt(): system, " ", then "ROLE: message" joined by " "
    # after a user turn and "</s>" after an assistant turn.
    assert "".join(t for t, _ in pieces) == (
        "<s>SYS USER: <image>\nq1 ASSISTANT: a1</s>USER: q2 ASSISTANT: a2</s>")
    assert [t for t, trained in pieces if trained] == [" a1</s>", " a2</s>"]
