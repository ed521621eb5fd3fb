"""Free-form answers as Cambrian's MMMU and MathVista scripts read them: the text after
"answer is"/"answer:", lower case, trailing period dropped; right if equal to the reference,
or if both are numbers within 5% of each other."""

from __future__ import annotations

from harness.eval.spec import Grade, Item, grade_letter

_KEYS = ("answer is", "answer is:", "answer:")


def extract_short(text: str) -> str:
    text = text.lower().strip()
    for key in _KEYS:
        if key in text:
            text = text.split(key)[-1]
    return text.strip().rstrip(".").strip()


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def short_answer_correct(said: str, reference: str) -> bool:
    gold = reference.lower().strip()
    if said == gold:
        return True
    a, b = _number(said), _number(gold)
    return a is not None and b is not None and abs(a - b) <= abs(b) * 0.05


def grade_mixed(item: Item, output: str) -> Grade:
    """Letters for items with options, the short-answer rule for the rest."""
    if item.choices:
        return grade_letter(item, output)
    said = extract_short(output)
    return Grade(said, float(any(short_answer_correct(said, r) for r in item.references)))
