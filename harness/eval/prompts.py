"""Prompt templates, versioned: their text changes scores by points, so its hash is stored
with every score."""

from __future__ import annotations

import hashlib

MULTIPLE_CHOICE_SUFFIX = "Answer with the option's letter from the given choices directly."
SHORT_ANSWER_SUFFIX = "Answer the question using a single word or phrase."


def multiple_choice_prompt(prompt: str) -> str:
    """LLaVA-1.5's multiple-choice template: the benchmark's prompt, then the suffix."""
    return f"{prompt}\n{MULTIPLE_CHOICE_SUFFIX}"


def template_hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:12]


MULTIPLE_CHOICE_HASH = template_hash("multiple_choice/v1", MULTIPLE_CHOICE_SUFFIX)
