"""How a conversation becomes the LLM's token ids: LLaVA-1.5's ``USER: ... ASSISTANT:`` turns
(or the tokenizer's own chat template), each ``<image>`` expanded into the image tokens, and
labels on the assistant's replies only. Training (``harness.data.conversations``) and
evaluation (``harness.eval.runner``) build their prompts here, so both see the same ids."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.errors import HarnessError
from harness.model.llm import IMAGE_TOKEN, image_token_id
from harness.model.mllm import IGNORE_INDEX

ROLES = {"human": "USER", "gpt": "ASSISTANT"}


@dataclass(frozen=True)
class Tokenized:
    input_ids: list[int]
    labels: list[int]


def prompt_ids(question: str, tokenizer, *, num_image_tokens: int, system: str = "") -> list[int]:
    """The ids the model sees before answering a one-turn question: exactly the ids that
    ``tokenize_conversation`` builds for the same turn in training."""
    (prompt, _), = segments([{"from": "human", "value": question}], tokenizer, system)
    return encode_with_image(prompt, tokenizer, num_image_tokens)


def segments(turns: Sequence[dict[str, str]], tokenizer, system: str = ""
             ) -> list[tuple[str, bool]]:
    """The conversation as text pieces, each marked as trained (an assistant reply) or not.

    Uses the tokenizer's chat template when it has one, else LLaVA-1.5's plain
    ``USER: ... ASSISTANT:`` format. A conversation that ends on a user turn ends with the
    generation prompt (what evaluation feeds the model).
    """
    for turn in turns:
        if turn["from"] not in ROLES:
            raise HarnessError(f"bad turn role {turn['from']!r}; valid: {', '.join(ROLES)}")
    if getattr(tokenizer, "chat_template", None):
        return _template_segments(turns, tokenizer, system)
    return _plain_segments(turns, tokenizer, system)


def _plain_segments(turns, tokenizer, system: str) -> list[tuple[str, bool]]:
    pieces: list[tuple[str, bool]] = []
    text = (tokenizer.bos_token or "") + (f"{system} " if system else "")
    for turn in turns:
        if turn["from"] == "human":
            text += f"USER: {turn['value']} ASSISTANT:"
        else:
            pieces.append((text, False))
            pieces.append((f" {turn['value']}{tokenizer.eos_token}", True))
            # LLaVA's vicuna_v1 (SeparatorStyle.TWO) starts the next turn right after </s>.
            text = ""
    if turns and turns[-1]["from"] == "human":
        pieces.append((text, False))
    return pieces


def _template_segments(turns, tokenizer, system: str) -> list[tuple[str, bool]]:
    messages = [{"role": "system", "content": system}] if system else []
    pieces: list[tuple[str, bool]] = []
    done = ""  # the rendered text already assigned to pieces
    for turn in turns:
        if turn["from"] == "human":
            messages.append({"role": "user", "content": turn["value"]})
            continue
        prefix = tokenizer.apply_chat_template(messages, tokenize=False,
                                               add_generation_prompt=True)
        messages.append({"role": "assistant", "content": turn["value"]})
        full = tokenizer.apply_chat_template(messages, tokenize=False)
        if not (prefix.startswith(done) and full.startswith(prefix)):
            raise HarnessError("the tokenizer's chat template does not render a conversation"
                               " as a growing prefix; cannot tell prompt from answer")
        pieces += [(prefix[len(done):], False), (full[len(prefix):], True)]
        done = full
    if turns and turns[-1]["from"] == "human":
        prompt = tokenizer.apply_chat_template(messages, tokenize=False,
                                               add_generation_prompt=True)
        pieces.append((prompt[len(done):], False))
    return [(text, trained) for text, trained in pieces if text]


def tokenize_conversation(turns: Sequence[dict[str, str]], tokenizer, *, num_image_tokens: int,
                          max_length: int, system: str = "") -> Tokenized:
    """Token ids and labels of a whole conversation; only assistant replies carry labels.

    Each piece is tokenized on its own and the ids concatenated, so the boundary between
    masked and trained tokens is exact whatever the tokenizer merges.
    """
    ids: list[int] = []
    labels: list[int] = []
    for text, trained in segments(turns, tokenizer, system):
        piece = encode_with_image(text, tokenizer, num_image_tokens)
        ids += piece
        labels += piece if trained else [IGNORE_INDEX] * len(piece)
    if len(ids) > max_length:
        if image_token_id(tokenizer) in ids[max_length:]:
            raise HarnessError(f"conversation longer than max_length={max_length} cuts its image")
        ids, labels = ids[:max_length], labels[:max_length]
    return Tokenized(ids, labels)


def encode_with_image(text: str, tokenizer, num_image_tokens: int) -> list[int]:
    """Encode text, expanding each ``<image>`` into ``num_image_tokens`` image-token ids."""
    parts = text.split(IMAGE_TOKEN)
    ids: list[int] = []
    for k, part in enumerate(parts):
        if k:
            ids += [image_token_id(tokenizer)] * num_image_tokens
        if part:
            ids += tokenizer.encode(part, add_special_tokens=False)
    return ids
