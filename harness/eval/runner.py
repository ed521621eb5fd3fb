"""The evaluation runner: batched greedy generation with the KV cache, or option
log-likelihood for multiple choice; with or without the image (blind mode); every prediction
appended to a JSONL file as it is made, so an interrupted evaluation resumes where it stopped.

Scores carry the mode in their metric name: ``accuracy`` (generation), ``accuracy_loglik``,
``accuracy_blind``, ``accuracy_loglik_blind``; ``vision_reliance`` pairs a with-image run with
a blind one (Cambrian's "does this benchmark need the image?").
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import logging
import os
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from harness.errors import HarnessError
from harness.eval.bootstrap import (
    Bootstrap,
    Replicates,
    replicates,
    replicates_path,
    to_bytes,
)
from harness.eval.files import UnreadableImage, open_image
from harness.eval.prompts import LETTERS, template_hash
from harness.eval.scoring import SCORER, Judged
from harness.eval.spec import Benchmark, Grade, Item, as_item
from harness.model.chat import prompt_ids, segments
from harness.model.ensemble import stack_pixels
from harness.model.llm import IMAGE_TOKEN
from harness.model.mllm import MLLM
from harness.record import Score, atomic_write_bytes, atomic_write_text

log = logging.getLogger(__name__)
BOOTSTRAP = Bootstrap()
"""How every score's 95% interval is drawn (``harness.eval.bootstrap``)."""

Mode = Literal["generate", "loglik"]
FeatureLookup = Callable[[str | bytes], list[torch.Tensor]]
"""Image reference -> one feature tensor per encoder (see ``harness.data.feature_cache``)."""
MODES = ("generate", "loglik")


@dataclass(frozen=True)
class Prediction:
    """One item's prediction as kept on disk (one JSON line each)."""

    idx: str
    task: str
    type: str
    source: str
    answer: str
    output: str
    extracted: str | None
    correct: bool
    n_choices: int
    credit: float = 0.0
    category: str = ""
    group: str = ""
    scoring: str = "generate"
    """How this item was answered: ``generate``, or ``loglik`` (option log-likelihood)."""
    logliks: list[float] | None = None
    error: str | None = None
    """Why the item could not be asked (an unreadable image); it counts as wrong."""

    def judged(self) -> Judged:
        return Judged(self.correct, self.task, self.type, self.source, self.n_choices,
                      credit=self.credit, idx=self.idx, group=self.group,
                      category=self.category)


def _prediction(item: Item, output: str, grade: Grade, **extra: Any) -> Prediction:
    return Prediction(idx=item.idx, task=item.task, type=item.type, source=item.source,
                      answer=item.answer, output=output, extracted=grade.extracted,
                      correct=grade.credit >= 1.0, n_choices=len(item.choices),
                      credit=grade.credit, category=item.category, group=item.group, **extra)


@dataclass
class _Ready:
    item: Item
    ids: list[int]
    pixels: torch.Tensor | None
    features: list[torch.Tensor] | None = None
    """Cached encoder features (one tensor per encoder) instead of pixels."""



@dataclass(frozen=True)
class EvalOptions:
    """How items are asked; part of the predictions file's identity (see ``_meta``)."""

    mode: Mode = "generate"
    blind: bool = False
    system: str = ""
    max_new_tokens: int = 16
    strict_images: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def variant(self) -> str:
        return ("_loglik" if self.mode == "loglik" else "") + ("_blind" if self.blind else "")


def select(items: list[Item], benchmark: Benchmark, *, subset: str | None = None,
           limit: int | None = None) -> list[Item]:
    """A named slim subset and/or the first ``limit`` items, in the benchmark's order."""
    if subset:
        if subset not in benchmark.slim:
            valid = ", ".join(sorted(benchmark.slim)) or "(none)"
            raise HarnessError(f"unknown subset {subset!r} of {benchmark.name}; valid: {valid}")
        items = benchmark.slim[subset](items)
    if limit is not None:
        if limit < 1:
            raise HarnessError(f"--limit must be at least 1, got {limit}")
        items = items[:limit]
    return items


def _prepare(model: MLLM, tokenizer, benchmark: Benchmark, item: Item, data_dir: Path,
             transform, opts: EvalOptions, image_features: FeatureLookup | None = None
             ) -> _Ready:
    text = benchmark.prompt(item)
    pixels = features = None
    if item.image is not None and not opts.blind:
        if image_features is not None:
            features = image_features(item.image)
        else:
            pixels = transform(open_image(item.image, data_dir))
        text = f"{IMAGE_TOKEN}\n{text}"
    ids = prompt_ids(text, tokenizer, num_image_tokens=model.num_image_tokens,
                     system=opts.system)
    return _Ready(item, ids, pixels, features)


def pad_rows(rows: list[list[int]], pad_id: int, side: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Token rows padded to one width on ``side``, and their attention mask."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        cols = slice(0, len(r)) if side == "right" else slice(width - len(r), width)
        ids[i, cols] = torch.tensor(r, dtype=torch.long)
        mask[i, cols] = 1
    return ids, mask


def _device(model: MLLM) -> torch.device:
    return next(model.parameters()).device


def _stack(ready: list[_Ready], device: torch.device):
    # Only the rows with an image contribute pixels: their visual tokens fill the image slots
    # in row order, and rows without slots (no image, or blind) take none.
    pixels = [r.pixels for r in ready if r.pixels is not None]
    return stack_pixels(pixels).to(device) if pixels else None


def _stack_features(ready: list[_Ready], device: torch.device) -> list[torch.Tensor] | None:
    rows = [r.features for r in ready if r.features is not None]
    return [torch.stack(per_encoder).to(device) for per_encoder in zip(*rows, strict=True)] \
        if rows else None


@torch.no_grad()
def _generate(model: MLLM, tokenizer, benchmark: Benchmark, ready: list[_Ready],
              opts: EvalOptions) -> list[Prediction]:
    device = _device(model)
    # Left padding keeps every prompt's last token at the end, where generation starts.
    ids, mask = pad_rows([r.ids for r in ready], tokenizer.pad_token_id, "left")
    features = _stack_features(ready, device)
    new = model.generate(ids.to(device), mask.to(device), _stack(ready, device),
                         max_new_tokens=opts.max_new_tokens,
                         **({"image_features": features} if features is not None else {}))
    out = []
    for r, tokens in zip(ready, new, strict=True):
        text = tokenizer.decode(tokens, skip_special_tokens=True).strip()
        out.append(_prediction(r.item, text, benchmark.grade(r.item, text)))
    return out


def option_continuations(tokenizer, n_choices: int, system: str = "") -> list[list[int]]:
    """The answer tokens of each option letter exactly as training writes an answer (the
    trained piece of a one-turn conversation: `` B</s>`` in LLaVA's plain format, the chat
    template's reply and end-of-turn tokens otherwise)."""
    out = []
    for k in range(n_choices):
        turns = [{"from": "human", "value": "?"}, {"from": "gpt", "value": LETTERS[k]}]
        answer, trained = segments(turns, tokenizer, system)[-1]
        assert trained, "the last piece of a conversation ending on a reply is the reply"
        out.append(tokenizer.encode(answer, add_special_tokens=False))
    return out


def _shared_lead(rows: list[list[int]]) -> int:
    """How many leading tokens every row has in common, each row keeping one of its own."""
    n = 0
    while all(len(r) > n + 1 for r in rows) and len({r[n] for r in rows}) == 1:
        n += 1
    return n


def scored_tokens(continuations: list[list[int]]) -> list[list[int]]:
    """Each option's answer tokens less the ending every option shares (the end-of-turn
    tokens): which letter the model means is decided before it; whether it would stop after
    the letter is the answer format, the same for every option. A one-token letter then needs
    no pass beyond the prompt's."""
    shared = _shared_lead([c[::-1] for c in continuations])
    return [c[:len(c) - shared] for c in continuations]


def shared_prefix(continuations: list[list[int]]) -> tuple[list[int], list[list[int]]]:
    """The tokens every option starts with (each keeps at least one of its own), and what
    follows them in each."""
    n = _shared_lead(continuations)
    return continuations[0][:n], [c[n:] for c in continuations]


@torch.no_grad()
def option_logliks(model: MLLM, tokenizer, ready: _Ready, system: str = "") -> list[float]:
    """Log-likelihood of each option letter after one question's prompt."""
    return batch_option_logliks(model, tokenizer, [ready], system)[0]


@torch.no_grad()
def batch_option_logliks(model: MLLM, tokenizer, ready: list[_Ready],
                         system: str = "") -> list[list[float]]:
    """Log-likelihood of each option's answer tokens (``scored_tokens``) after its question's
    prompt, for a batch of questions, the prompts (images included) encoded once. When every
    option is one token after the shared prefix, that one pass is all; otherwise the prompts
    are left-padded so they end together and the options are scored from their KV cache in
    one more batched step. No generation, so no answer to extract."""
    device = _device(model)
    pad = tokenizer.pad_token_id
    split = [_option_tokens(tokenizer, len(r.item.choices), system) for r in ready]
    prefixes, conts = [p for p, _ in split], [c for _, c in split]
    # What every option of a question starts with is read once, as the end of its prompt.
    rows = [r.ids + p for r, p in zip(ready, prefixes, strict=True)]
    decoder, head = model.llm.get_decoder(), model.llm.get_output_embeddings()
    features = _stack_features(ready, device)
    extra = {"image_features": features} if features is not None else {}
    width = max(len(c) for cs in conts for c in cs) - 1
    longest = max(len(p) for p in prefixes)
    if not width:
        # One token per option: a single causal pass. Right padding leaves every real token
        # where it would be alone (pads only follow it), so no mask and no position ids are
        # built; each row is read at its own end.
        ids, _ = pad_rows(rows, pad, "right")
        embeds = model.embed(ids.to(device), _stack(ready, device), **extra)
        ends = torch.tensor([len(r) for r in rows], device=device)
        at = (ends[:, None] - 1 - torch.arange(longest, -1, -1, device=device)).clamp(min=0)
        tail = head(model.final_hidden_at(embeds, at)).float().log_softmax(-1).cpu()
        return _totals(tail, prefixes, conts, longest)
    ids, mask = pad_rows(rows, pad, "left")
    ids, mask = ids.to(device), mask.to(device)
    # Positions count real tokens only, so a padded prompt reads exactly like an unpadded one.
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    out = decoder(inputs_embeds=model.embed(ids, _stack(ready, device), **extra),
                  attention_mask=mask, position_ids=positions, use_cache=True)
    # Rows end together: position -1 - i is the same token of every row.
    tail = head(out.last_hidden_state[:, -(longest + 1):]).float().log_softmax(-1).cpu()
    totals = _totals(tail, prefixes, conts, longest)
    k_max = max(len(cs) for cs in conts)
    # transformers 5 names the returned cache ``cache``; 4.x ``past_key_values``.
    cache = out.get("cache")
    if cache is None:
        cache = out.past_key_values
    cache.batch_repeat_interleave(k_max)
    # Row b * k_max + k feeds option k of question b all but its last token; rows for
    # options a question does not have carry one padding token and are not read.
    fed = [(cs[k][:-1] or [pad]) if k < len(cs) else [pad]
           for cs in conts for k in range(k_max)]
    rest, rest_mask = pad_rows(fed, pad, "right")
    full_mask = torch.cat([mask.repeat_interleave(k_max, 0), rest_mask.to(device)], 1)
    start = positions[:, -1:].repeat_interleave(k_max, 0) + 1
    rest_positions = start + torch.arange(rest.shape[1], device=device)
    hidden = decoder(input_ids=rest.to(device), attention_mask=full_mask,
                     position_ids=rest_positions,
                     **{_cache_argument(decoder): cache}).last_hidden_state
    logp = head(hidden).float().log_softmax(-1)
    for b, cs in enumerate(conts):
        for k, cont in enumerate(cs):
            # Position j of the fed tokens predicts answer token j + 1.
            totals[b][k] += sum(logp[b * k_max + k, j, token].item()
                                for j, token in enumerate(cont[1:]))
    return totals


_OPTION_TOKENS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _option_tokens(tokenizer, n_choices: int, system: str) -> tuple[list[int], list[list[int]]]:
    """``shared_prefix(scored_tokens(option_continuations(...)))``, worked out once per
    tokenizer, option count and system prompt (every batch of a benchmark asks again)."""
    known = _OPTION_TOKENS.setdefault(tokenizer, {})
    key = (n_choices, system)
    if key not in known:
        known[key] = shared_prefix(scored_tokens(option_continuations(tokenizer, n_choices,
                                                                      system)))
    return known[key]


def _totals(tail: torch.Tensor, prefixes: list[list[int]], conts: list[list[list[int]]],
            longest: int) -> list[list[float]]:
    """Each option's log-likelihood so far: its question's shared prefix, then its first own
    token. ``tail[b, i]`` holds the log-probabilities after the ``longest + 1 - i``-th last
    token of row b: the last one predicts the first own token, those before it the prefix."""
    totals = []
    for b, (prefix, cs) in enumerate(zip(prefixes, conts, strict=True)):
        fed = sum(tail[b, longest - len(prefix) + j, token].item()
                  for j, token in enumerate(prefix))
        totals.append([fed + tail[b, longest, c[0]].item() for c in cs])
    return totals


def _cache_argument(decoder) -> str:
    # transformers 5 renamed ``past_key_values`` to ``cache`` (the old name warns).
    return "cache" if "cache" in inspect.signature(decoder.forward).parameters \
        else "past_key_values"


def predict(model: MLLM, tokenizer, benchmark: Benchmark, rows: Iterable[Item | dict],
            data_dir: Path, transform, *, batch_size: int, system: str = "",
            max_new_tokens: int | None = None, mode: Mode = "generate",
            blind: bool = False, strict_images: bool = False) -> list[Prediction]:
    """Predictions for ``rows`` (items, or probe rows in CV-Bench's layout), in order."""
    opts = EvalOptions(mode=mode, blind=blind, system=system,
                       max_new_tokens=max_new_tokens or benchmark.max_new_tokens,
                       strict_images=strict_images)
    return [p for batch in _batches(model, tokenizer, benchmark, [as_item(r) for r in rows],
                                    Path(data_dir), transform, batch_size, opts) for p in batch]


def _batches(model: MLLM, tokenizer, benchmark: Benchmark, items: list[Item], data_dir: Path,
             transform, batch_size: int, opts: EvalOptions,
             image_features: FeatureLookup | None = None) -> Iterator[list[Prediction]]:
    if opts.mode not in MODES:
        raise HarnessError(f"unknown scoring mode {opts.mode!r}; valid: {', '.join(MODES)}")
    model.eval()
    for start in range(0, len(items), batch_size):
        chunk = items[start:start + batch_size]
        done: dict[str, Prediction] = {}
        ready: list[_Ready] = []
        for item in chunk:
            try:
                ready.append(_prepare(model, tokenizer, benchmark, item, data_dir, transform,
                                      opts, image_features))
            except UnreadableImage as exc:
                if opts.strict_images:
                    raise
                # Counted as wrong, never dropped from the denominator.
                done[item.idx] = _prediction(item, "", Grade(None, 0.0), error=str(exc))
        generate = [r for r in ready if opts.mode == "generate" or not r.item.choices]
        if generate:
            for p in _generate(model, tokenizer, benchmark, generate, opts):
                done[p.idx] = p
        scored = [r for r in ready if opts.mode == "loglik" and r.item.choices]
        if scored:
            for r, logliks in zip(scored, batch_option_logliks(model, tokenizer, scored,
                                                               opts.system), strict=True):
                letter = LETTERS[max(range(len(logliks)), key=logliks.__getitem__)]
                grade = Grade(letter, float(letter == r.item.answer))
                done[r.item.idx] = _prediction(r.item, letter, grade, scoring="loglik",
                                               logliks=[round(v, 4) for v in logliks])
        yield [done[item.idx] for item in chunk]


def regrade(benchmark: Benchmark, items: list[Item], predictions: dict[str, Prediction]
            ) -> tuple[list[Prediction], list[str]]:
    """The stored outputs graded again under today's rules, one per item in ``items``' order,
    and the ids of items with no stored prediction: those count as wrong (``error`` says
    why), never leave the denominator. Log-likelihood answers keep their letter; an item that
    could not be asked stays wrong."""
    out, missing = [], []
    for item in items:
        p = predictions.get(item.idx)
        if p is None:
            missing.append(item.idx)
            out.append(_prediction(item, "", Grade(None, 0.0), error="no stored prediction"))
        elif p.scoring == "loglik" or p.error is not None:
            out.append(p)
        else:
            grade = benchmark.grade(item, p.output)
            out.append(dataclasses.replace(p, extracted=grade.extracted,
                                           correct=grade.credit >= 1.0, credit=grade.credit))
    return out, missing


def read_predictions(path: Path) -> dict[str, Prediction]:
    """A predictions file's entries by item id (see ``evaluate``)."""
    return _read_done(Path(path))


def write_predictions(path: Path, predictions: list[Prediction]) -> None:
    """Replace a predictions file whole (atomically), keeping its settings' meta file."""
    atomic_write_text(Path(path), "".join(json.dumps(asdict(p)) + "\n" for p in predictions))


def score(benchmark: Benchmark, predictions: list[Prediction], dataset_hash: str, *,
          variant: str = "", replicates_file: Path | None = None) -> list[Score]:
    """The benchmark's metrics with their 95% intervals. With ``replicates_file``, the
    bootstrap draws of the overall and Table 5 numbers are kept there too (``.npz``): the
    store pools seeds and pairs encoders with them (``harness.eval.noise``)."""
    judged = [p.judged() for p in predictions]
    drawn = replicates(benchmark.score, judged, BOOTSTRAP, within=benchmark.resample_within)
    interval = {} if drawn is None else drawn.intervals()
    if replicates_file is not None:
        _keep_replicates(benchmark, drawn, variant, replicates_file)
    scores = []
    for m in benchmark.score(judged):
        ci = interval.get((m.name, m.subset))
        scores.append(Score(
            benchmark=benchmark.name, metric=m.name + variant, subset=m.subset, value=m.value,
            n=m.n, category=benchmark.category, benchmark_version=benchmark.version,
            prompt_hash=benchmark.prompt_hash, label_patch=benchmark.label_patch,
            dataset_hash=dataset_hash, chance=m.chance, scorer=SCORER,
            range_min=0.0, range_max=m.high,
            **({} if ci is None else {
                "ci_low": ci.low, "ci_high": ci.high,
                "ci_resamples": BOOTSTRAP.resamples, "ci_seed": BOOTSTRAP.seed})))
    errors = sum(p.error is not None for p in predictions)
    if errors:
        log.warning("%s: %d of %d items had unreadable images (counted as wrong)",
                    benchmark.name, errors, len(predictions))
        scores.append(Score(benchmark=benchmark.name, metric="unreadable" + variant,
                            subset="overall", value=100.0 * errors / len(predictions),
                            n=len(predictions), category=benchmark.category,
                            benchmark_version=benchmark.version,
                            prompt_hash=benchmark.prompt_hash,
                            label_patch=benchmark.label_patch, dataset_hash=dataset_hash,
                            scorer=SCORER, range_min=0.0, range_max=100.0))
    return scores


def _keep_replicates(benchmark: Benchmark, drawn: Replicates | None, variant: str,
                     path: Path) -> None:
    """The draws of the numbers settings are made of (overall, and the Table 5 slices),
    named as the scores are; no file when there are too few units to draw."""
    if drawn is None:
        Path(path).unlink(missing_ok=True)
        return
    kept = {"overall", *(column.subset for column in benchmark.table5)}
    named = dataclasses.replace(drawn, benchmark=benchmark.name, values={
        (metric + variant, subset): values for (metric, subset), values in drawn.values.items()
        if subset in kept})
    atomic_write_bytes(Path(path), to_bytes(named))


# -- the predictions file: append per batch, resume on restart ---------------------------

def _meta_path(predictions_file: Path) -> Path:
    return predictions_file.with_name(predictions_file.name + ".meta.json")


def _read_done(path: Path) -> dict[str, Prediction]:
    """Predictions already on disk; a torn last line (a crash mid-write) is cut off."""
    if not path.exists():
        return {}
    raw = path.read_bytes()
    keep = raw[: raw.rfind(b"\n") + 1]
    if len(keep) != len(raw):
        with path.open("r+b") as fh:
            fh.truncate(len(keep))
    done = {}
    for n, line in enumerate(keep.decode("utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            p = Prediction(**json.loads(line))
        except (ValueError, TypeError):
            # A line this code cannot read is predicted again rather than trusted.
            log.warning("%s:%d: unreadable prediction, asking again", path, n)
            continue
        done[p.idx] = p
    return done


def _append(path: Path, predictions: list[Prediction]) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write("".join(json.dumps(asdict(p)) + "\n" for p in predictions))
        fh.flush()
        os.fsync(fh.fileno())


@dataclass(frozen=True)
class Shard:
    """This process's share of an evaluation spread over ``world`` processes: items
    ``rank``, ``rank + world``, ... ``wait`` blocks until every process reaches it."""

    rank: int
    world: int
    wait: Callable[[], None]

    def file(self, predictions_file: Path) -> Path:
        """Where this process keeps its own predictions (merged by the main one)."""
        return share_file(predictions_file, self.rank, self.world)


def share_file(predictions_file: Path, rank: int, world: int) -> Path:
    """Process ``rank``'s share of ``predictions_file`` in an evaluation over ``world``."""
    return predictions_file.with_name(f"{predictions_file.stem}.rank{rank}-of-{world}"
                                      f"{predictions_file.suffix}")


def evaluate(model: MLLM, tokenizer, benchmark: Benchmark, data_dir: Path, transform, *,
             batch_size: int, predictions_file: Path, system: str = "",
             mode: Mode = "generate", blind: bool = False, limit: int | None = None,
             subset: str | None = None, resume: bool = True,
             max_new_tokens: int | None = None, strict_images: bool = False,
             model_tag: str = "",
             on_progress: Callable[[int, int], None] | None = None,
             image_features: FeatureLookup | None = None,
             shard: Shard | None = None) -> list[Score]:
    """Predict every item (or a ``subset`` / the first ``limit``), keep each prediction in
    ``predictions_file`` (JSONL, appended and synced per batch), and return the scores.

    With a ``shard``, this process predicts only its share into a file of its own; after all
    have finished, the main process (rank 0) merges the shares into ``predictions_file`` and
    returns the scores, the others return ``[]``.

    A file left by an interrupted evaluation with the same settings is resumed: items already
    predicted are skipped. One written under other settings (benchmark version, prompt, label
    patch, data, mode, selection, ``model_tag``) is started afresh, never mixed in. Pass a
    ``model_tag`` naming the weights (a checkpoint hash or step) when a resumed job may hold
    a different model than the one that wrote the file. ``image_features`` gives a frozen
    encoder's cached features per image (``harness.data.feature_cache``) instead of pixels.
    """
    data_dir = Path(data_dir)
    predictions_file = Path(predictions_file)
    opts = EvalOptions(mode=mode, blind=blind, system=system,
                       max_new_tokens=max_new_tokens or benchmark.max_new_tokens,
                       strict_images=strict_images)
    items = select(benchmark.items(data_dir), benchmark, subset=subset, limit=limit)
    dataset_hash = benchmark.dataset_hash(data_dir)
    if subset or limit:
        dataset_hash = template_hash(dataset_hash, f"subset={subset or ''}",
                                     f"limit={limit or ''}")
    meta = {**benchmark.fingerprint(), "dataset_hash": dataset_hash, "mode": mode,
            "blind": blind, "system": template_hash(system),
            "max_new_tokens": opts.max_new_tokens, "n_items": len(items),
            "model_tag": model_tag}
    merged_file = predictions_file
    if shard is not None:
        items_all, items = items, items[shard.rank::shard.world]
        predictions_file = shard.file(predictions_file)
        meta = {**meta, "shard": [shard.rank, shard.world]}
    meta_path = _meta_path(predictions_file)
    previous = json.loads(meta_path.read_text()) if meta_path.exists() else None
    if not resume or previous != meta:
        if predictions_file.exists() and previous is not None and resume:
            log.warning("%s: written under other settings; starting afresh", predictions_file)
        predictions_file.unlink(missing_ok=True)
    atomic_write_text(meta_path, json.dumps(meta, indent=2, sort_keys=True))
    predictions_file.parent.mkdir(parents=True, exist_ok=True)
    predictions_file.touch()

    done = _read_done(predictions_file)
    wanted = {i.idx for i in items}
    todo = [i for i in items if i.idx not in done]
    finished = len(wanted) - len(todo)
    for batch in _batches(model, tokenizer, benchmark, todo, data_dir, transform, batch_size,
                          opts, image_features):
        _append(predictions_file, batch)
        for p in batch:
            done[p.idx] = p
        finished += len(batch)
        if on_progress:
            on_progress(finished, len(items))
    predictions = [done[i.idx] for i in items]
    if shard is not None:
        shard.wait()  # every share is on disk
        if shard.rank != 0:
            return []
        predictions = _merge_shares(merged_file, items_all, shard.world, meta)
    return score(benchmark, predictions, dataset_hash, variant=opts.variant,
                 replicates_file=replicates_path(merged_file))


def _merge_shares(predictions_file: Path, items: list[Item], world: int,
                  meta: dict[str, Any]) -> list[Prediction]:
    """The shares of ``world`` processes as one predictions file, in item order (as one
    process writes it, so ``harness rescore`` and a later resume read it alike)."""
    shares = [share_file(predictions_file, rank, world) for rank in range(world)]
    done: dict[str, Prediction] = {}
    for share in shares:
        done.update(_read_done(share))
    missing = [i.idx for i in items if i.idx not in done]
    if missing:
        raise HarnessError(f"{predictions_file}: {len(missing)} items have no prediction in"
                           f" the {world} shares, e.g. {missing[0]!r}")
    predictions = [done[i.idx] for i in items]
    whole = {k: v for k, v in meta.items() if k != "shard"} | {"n_items": len(items)}
    atomic_write_text(predictions_file, "".join(json.dumps(asdict(p)) + "\n"
                                                for p in predictions))
    atomic_write_text(_meta_path(predictions_file), json.dumps(whole, indent=2, sort_keys=True))
    for share in shares:  # merged: only benchmark files stay in the folder
        share.unlink()
        _meta_path(share).unlink(missing_ok=True)
    return predictions


def vision_reliance(with_image: Iterable[Score], blind: Iterable[Score]) -> list[Score]:
    """With-image minus blind, per benchmark, metric and subset: how much of a score needs
    the image (metric ``<metric>_vision_reliance``)."""
    blind_by = {(s.benchmark, s.metric.replace("_blind", ""), s.subset): s for s in blind
                if s.metric.endswith("_blind")}
    out = []
    for s in with_image:
        b = blind_by.get((s.benchmark, s.metric, s.subset))
        if b is None or s.metric.startswith("unreadable"):
            continue
        # A difference of two numbers in [0, high] lies in [-high, high].
        high = None if s.range_max is None else s.range_max - (s.range_min or 0.0)
        out.append(Score(benchmark=s.benchmark, metric=f"{s.metric}_vision_reliance",
                         subset=s.subset, value=s.value - b.value, n=min(s.n, b.n),
                         category=s.category, benchmark_version=s.benchmark_version,
                         prompt_hash=s.prompt_hash, label_patch=s.label_patch,
                         dataset_hash=s.dataset_hash, scorer=s.scorer,
                         range_min=None if high is None else -high, range_max=high))
    return out
