"""Open-answer VQA: the standard VQA answer normalisation (EvalAI's processor, as lmms-eval
applies it to TextVQA), VQA accuracy over ten human answers, and the GQA and TextVQA loaders.

VQA accuracy (Antol et al.; TextVQA): for each of the ten answers, min(1, matches among the
other nine / 3); the item's score is the mean of those ten numbers.
"""

from __future__ import annotations

import re
import string
from pathlib import Path
from statistics import mean

from harness.eval.files import LayoutError, check_images, columns, read_json
from harness.eval.prompts import SHORT_ANSWER_SUFFIX, rendered_hash, short_answer, short_answer_hash
from harness.eval.scoring import Judged, Metric, accuracy_slices, mean_accuracy
from harness.eval.spec import Benchmark, Grade, Item, Table5Column, first_per

_NUMBERS = {"none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4",
            "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10"}
_ARTICLES = {"a", "an", "the"}
_PUNCT = [";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@",
          "`", ",", "?", "!"]
# The VQA evaluation's period rule: a period not followed by a digit goes ("1.5" keeps its).
_PERIOD = re.compile(r"(?!<=\d)(\.)(?!\d)")
_DIGIT_COMMA = re.compile(r"(?<=\d)(\,)+(?=\d)")
# Contractions written without the apostrophe, as the VQA evaluation restores them.
_CONTRACTION_PAIRS = """
    aint:ain't arent:aren't cant:can't couldve:could've couldnt:couldn't couldn'tve:couldn't've
    couldnt've:couldn't've didnt:didn't doesnt:doesn't dont:don't hadnt:hadn't
    hadnt've:hadn't've hadn'tve:hadn't've hasnt:hasn't havent:haven't hed:he'd hed've:he'd've
    he'dve:he'd've hes:he's howd:how'd howll:how'll hows:how's Id've:I'd've I'dve:I'd've Im:I'm
    Ive:I've isnt:isn't itd:it'd itd've:it'd've it'dve:it'd've itll:it'll let's:let's maam:ma'am
    mightnt:mightn't mightnt've:mightn't've mightn'tve:mightn't've mightve:might've
    mustnt:mustn't mustve:must've neednt:needn't notve:not've oclock:o'clock oughtnt:oughtn't
    ow's'at:'ow's'at 'ows'at:'ow's'at 'ow'sat:'ow's'at shant:shan't shed've:she'd've
    she'dve:she'd've she's:she's shouldve:should've shouldnt:shouldn't shouldnt've:shouldn't've
    shouldn'tve:shouldn't've somebody'd:somebodyd somebodyd've:somebody'd've
    somebody'dve:somebody'd've somebodyll:somebody'll somebodys:somebody's someoned:someone'd
    someoned've:someone'd've someone'dve:someone'd've someonell:someone'll someones:someone's
    somethingd:something'd somethingd've:something'd've something'dve:something'd've
    somethingll:something'll thats:that's thered:there'd thered've:there'd've
    there'dve:there'd've therere:there're theres:there's theyd:they'd theyd've:they'd've
    they'dve:they'd've theyll:they'll theyre:they're theyve:they've twas:'twas wasnt:wasn't
    wed've:we'd've we'dve:we'd've weve:we've werent:weren't whatll:what'll whatre:what're
    whats:what's whatve:what've whens:when's whered:where'd wheres:where's whereve:where've
    whod:who'd whod've:who'd've who'dve:who'd've wholl:who'll whos:who's whove:who've
    whyll:why'll whyre:why're whys:why's wont:won't wouldve:would've wouldnt:wouldn't
    wouldnt've:wouldn't've wouldn'tve:wouldn't've yall:y'all yall'll:y'all'll y'allll:y'all'll
    yall'd've:y'all'd've y'alld've:y'all'd've y'all'dve:y'all'd've youd:you'd youd've:you'd've
    you'dve:you'd've youll:you'll youre:you're youve:you've
"""
_CONTRACTIONS = dict(p.split(":") for p in _CONTRACTION_PAIRS.split())


def normalize_answer(text: str) -> str:
    """EvalAI's VQA answer processor, quirks included (the period rule removes at most 32
    periods, because the original passes ``re.UNICODE`` where ``count`` goes)."""
    text = text.lower().replace(",", "").replace("?", "").replace("'s", " 's").strip()
    text = text.replace("\n", " ").replace("\t", " ").strip()
    spaced = _DIGIT_COMMA.search(text) is not None
    out = text
    for p in _PUNCT:
        glued = not (p + " " in text or " " + p in text or spaced)
        out = out.replace(p, " " if glued else "")
    out = _PERIOD.sub("", out, count=re.UNICODE)
    words = [_NUMBERS.get(w, w) for w in out.lower().split()]
    return " ".join(_CONTRACTIONS.get(w, w) for w in words if w not in _ARTICLES)


def vqa_accuracy(prediction: str, answers: tuple[str, ...] | list[str]) -> float:
    """Mean over the references of min(1, matches among the others / 3), on normalised text."""
    refs = [normalize_answer(a) for a in answers]
    pred = normalize_answer(prediction)
    return mean(min(1.0, sum(r == pred for j, r in enumerate(refs) if j != i) / 3)
                for i in range(len(refs)))


def grade_vqa(item: Item, output: str) -> Grade:
    return Grade(normalize_answer(output), vqa_accuracy(output, item.references))


_NO_PUNCT = str.maketrans("", "", string.punctuation)


def exact_match(prediction: str, answer: str) -> bool:
    """lmms-eval's ``exact_match`` with ignore_case and ignore_punctuation (GQA): every ASCII
    punctuation character dropped, lower case; we also strip surrounding whitespace."""
    return (prediction.lower().translate(_NO_PUNCT).strip()
            == answer.lower().translate(_NO_PUNCT).strip())


def grade_exact(item: Item, output: str) -> Grade:
    return Grade(output.strip(), float(exact_match(output, item.answer)))


# -- GQA ----------------------------------------------------------------------------------
GQA_LAYOUT = ("testdev_balanced_questions.json ({question id: {imageId, question, answer, "
              "types}}) and images/<imageId>.jpg")


def load_gqa(data_dir: Path) -> list[Item]:
    data_dir = Path(data_dir)
    path = data_dir / "testdev_balanced_questions.json"
    data = read_json(path, GQA_LAYOUT)
    if not isinstance(data, dict):
        raise LayoutError(f"{path}: a {type(data).__name__}, expected {GQA_LAYOUT}")
    items = []
    for qid, q in data.items():
        columns(q, ("imageId", "question", "answer"), f"{path}: question {qid}", GQA_LAYOUT)
        types = q.get("types") or {}
        items.append(Item(idx=str(qid), question=q["question"],
                          image=f"images/{q['imageId']}.jpg", answer=q["answer"],
                          type=types.get("structural", ""), task=types.get("semantic", "")))
    check_images(((i.idx, i.image) for i in items), data_dir, GQA_LAYOUT)
    return items


def score_open(judged: list[Judged], name: str) -> list[Metric]:
    return [mean_accuracy(judged, name)] + accuracy_slices(judged, name)


_OPEN_SAMPLE = [Item("1", "What color is the sign?", None, answer="red",
                     meta={"ocr_tokens": ["STOP", "ahead"]})]

GQA = Benchmark(
    name="gqa",
    version="1",
    category="General",
    description="GQA testdev-balanced (12,578 questions); exact match ignoring case and "
                "punctuation (lmms-eval's rule)",
    load=load_gqa,
    score=lambda judged: score_open(judged, "accuracy"),
    prompt=short_answer,
    prompt_hash=short_answer_hash(_OPEN_SAMPLE),
    kind="open",
    grade=grade_exact,
    annotations=("testdev_balanced_questions.json",),
    layout=GQA_LAYOUT,
    split="testdev_balanced",
    slim={"slim": lambda items: first_per(items, 50, lambda i: i.type)},
    table5=(Table5Column("GQA"),),
)


# -- TextVQA -------------------------------------------------------------------------------
TEXTVQA_LAYOUT = ("TextVQA_0.5.1_val.json ({\"data\": [{question_id, question, image_id, "
                  "answers (10), ocr_tokens}]}) and train_images/<image_id>.jpg")


def load_textvqa(data_dir: Path) -> list[Item]:
    data_dir = Path(data_dir)
    path = data_dir / "TextVQA_0.5.1_val.json"
    data = read_json(path, TEXTVQA_LAYOUT)
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise LayoutError(f"{path}: no \"data\" list; expected {TEXTVQA_LAYOUT}")
    items = []
    for n, q in enumerate(data["data"]):
        columns(q, ("question_id", "question", "image_id", "answers"), f"{path}: data[{n}]",
                TEXTVQA_LAYOUT)
        items.append(Item(idx=str(q["question_id"]), question=q["question"],
                          image=f"train_images/{q['image_id']}.jpg",
                          answer=q["answers"][0] if q["answers"] else "",
                          answers=tuple(q["answers"]),
                          meta={"ocr_tokens": list(q.get("ocr_tokens") or [])}))
    check_images(((i.idx, i.image) for i in items), data_dir, TEXTVQA_LAYOUT)
    return items


def textvqa_ocr_prompt(item: Item) -> str:
    """Cambrian's TextVQA template: the OCR tokens, comma-separated, after the question."""
    tokens = ", ".join(item.meta.get("ocr_tokens", []))
    ocr = f" {tokens}" if tokens else ""
    return f"{item.question}\nReference OCR tokens:{ocr}\n{SHORT_ANSWER_SUFFIX}"


def _textvqa(name: str, prompt, template: str, note: str) -> Benchmark:
    # Both variants read the one TextVQA release, in DIR/textvqa/.
    return Benchmark(
        name=name,
        version="1",
        category="OCR & Chart",
        description=f"TextVQA val (5,000 questions); VQA accuracy over ten answers; {note}",
        load=load_textvqa,
        score=lambda judged: score_open(judged, "vqa_accuracy"),
        prompt=prompt,
        prompt_hash=rendered_hash(template, prompt, _OPEN_SAMPLE),
        kind="open",
        grade=grade_vqa,
        metric="vqa_accuracy",
        annotations=("TextVQA_0.5.1_val.json",),
        layout=TEXTVQA_LAYOUT,
        split="val",
        slim={"slim": lambda items: items[:200]},
        folder="textvqa",
        table5=(Table5Column("TextVQA"),),
    )


TEXTVQA = _textvqa("textvqa", short_answer,
                   "short_answer/v1", "no OCR tokens in the prompt (lmms-eval's default)")
TEXTVQA_OCR = _textvqa("textvqa-ocr", textvqa_ocr_prompt, "textvqa_ocr/v1",
                       "OCR tokens in the prompt (Cambrian's evaluation)")
BENCHMARKS = [GQA, TEXTVQA, TEXTVQA_OCR]
