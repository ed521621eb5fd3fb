"""Prompt templates, versioned: their text changes scores by points (Cambrian-8B's MMBench moved
from 64.8 to 75.9 with another suffix), so a hash of the rendered text is stored with every
score."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

MULTIPLE_CHOICE_SUFFIX = "Answer with the option's letter from the given choices directly."
SHORT_ANSWER_SUFFIX = "Answer the question using a single word or phrase."
LETTERS = "ABCDEFGHIJ"


def multiple_choice_prompt(prompt: str) -> str:
    """LLaVA-1.5's multiple-choice template: the benchmark's prompt, then the suffix."""
    return f"{prompt}\n{MULTIPLE_CHOICE_SUFFIX}"


def short_answer_prompt(question: str) -> str:
    """LLaVA-1.5's short-answer template (GQA, TextVQA, ChartQA, DocVQA, MME)."""
    return f"{question}\n{SHORT_ANSWER_SUFFIX}"


def short_answer(item: Any) -> str:
    """An item's short-answer prompt (its question and LLaVA-1.5's suffix): the ``prompt`` of
    every short-answer benchmark."""
    return short_answer_prompt(item.question)


def short_answer_hash(samples: Iterable[Any]) -> str:
    """The ``prompt_hash`` of a short-answer benchmark, rendered on its sample items."""
    return rendered_hash("short_answer/v1", short_answer, samples)


def options_block(choices: Sequence[str]) -> str:
    """``\\nA. first\\nB. second`` as Cambrian's evaluation scripts list options."""
    return "".join(f"\n{LETTERS[i]}. {c}" for i, c in enumerate(choices))


def options_prompt(question: str, choices: Sequence[str], hint: str = "") -> str:
    """Cambrian's multiple-choice layout: [hint newline] question, " Options:", the lettered
    options one per line, then the multiple-choice suffix."""
    head = f"{hint}\n{question}" if hint else question
    return f"{head} Options:{options_block(choices)}\n{MULTIPLE_CHOICE_SUFFIX}"


def template_hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:12]


def rendered_hash(name: str, prompt: Callable[[Any], str], samples: Iterable[Any]) -> str:
    """Hash of a template's output on fixed sample items: any edit that changes what the model
    reads changes the hash, and no edit that does not."""
    return template_hash(name, *(prompt(s) for s in samples))


MULTIPLE_CHOICE_HASH = template_hash("multiple_choice/v1", MULTIPLE_CHOICE_SUFFIX)
