"""Is A better than B? (``harness compare`` and ``GET /api/v1/compare``.) And how much does
each benchmark need the image (``harness reliance``)?

A side is named by a finished run's key, or by a setting: its encoder, then as many of
``recipe=``, ``llm=``, ``connector=``, ``preset=`` as tell it apart (``dinov2-vitl14,
recipe=frozen-2stage``). Settings pool their seeds; the difference per benchmark and category
gets its paired 95% interval (``harness.store.noise``), and ``--plan D`` the seeds a gap of D
points needs.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np

from harness.errors import HarnessError
from harness.store.noise import (
    RunDraws,
    Side,
    compare,
    seeds_needed,
    setting_rng,
    side,
    vision_reliance,
)
from harness.store.store import Store
from harness.store.summary import Setting

SMOKE_NOTE = ", SMOKE: random-weight twins, not a real score"
SELECTOR_FIELDS = {"encoder": "encoder_id", "recipe": "recipe", "llm": "llm",
                   "connector": "connector", "preset": "preset", "config": "setting_hash"}
"""How a side names a setting's fields; ``config`` tells apart settings that differ only in
what their names hide (a recipe file edited under the same name)."""


def parse_selector(text: str) -> dict[str, str]:
    """``ENCODER[,field=value...]`` (or all ``field=value``) as Setting attributes."""
    out: dict[str, str] = {}
    for i, part in enumerate(p.strip() for p in text.split(",")):
        name, sep, value = part.partition("=")
        if not sep and i == 0 and part:
            name, value = "encoder", part
        if name.strip() not in SELECTOR_FIELDS or not value.strip():
            raise HarnessError(f"cannot read {part!r} in {text!r}: give ENCODER or "
                               f"field=value with field one of {', '.join(SELECTOR_FIELDS)}")
        out[SELECTOR_FIELDS[name.strip()]] = value.strip()
    return out


def resolve(store: Store, text: str) -> Side:
    """The side ``text`` names: a finished run, else exactly one setting."""
    return side(*resolve_runs(store, text))


def resolve_runs(store: Store, text: str) -> tuple[str, list[RunDraws], np.random.Generator]:
    """What ``text`` names (a finished run, else exactly one setting): its label, its runs'
    scores and draws, and the random generator its intervals are drawn with."""
    text = text.strip()
    if not text:
        raise HarnessError("name a run key or a setting (ENCODER[,recipe=...]) to compare")
    runs = store.run_draws([text])
    if runs:
        smoke = (store.run(text) or {}).get("smoke", False)
        return f"run {text}{SMOKE_NOTE if smoke else ''}", runs, setting_rng((text,))
    wanted = parse_selector(text)
    settings = [s for s in store.settings()
                if all(getattr(s, f) == v for f, v in wanted.items())]
    if any(not s.smoke for s in settings):
        settings = [s for s in settings if not s.smoke]  # smoke twins never stand in
    if not settings:
        raise HarnessError(_no_match(store, text, wanted))
    if len(settings) > 1:
        options = " | ".join(_selector(s, settings) for s in settings[:8])
        raise HarnessError(f"{text!r} matches {len(settings)} settings; name one: {options}")
    (chosen,) = settings
    keys = store.setting_runs(chosen)
    seeds = f"{len(keys)} seed{'s' if len(keys) != 1 else ''}"
    names = (chosen.encoder_id, chosen.recipe, chosen.llm, chosen.connector, chosen.preset)
    label = f"{' · '.join(names)} ({seeds}){SMOKE_NOTE if chosen.smoke else ''}"
    return label, store.run_draws(keys), setting_rng(chosen.key)


def reliance_report(store: Store, text: str) -> dict[str, Any]:
    """How much each benchmark of a setting (or run) needs the image, as plain data."""
    label, runs, rng = resolve_runs(store, text)
    rows = vision_reliance(runs, rng)
    if not rows:
        raise HarnessError(f"{label}: no benchmark was scored both with and without the image"
                           " (blind_eval = true in the preset, or harness eval --blind)")
    return {"label": label, "runs": [r.run_key for r in runs],
            "benchmarks": [{**asdict(r), "reliance": r.reliance} for r in rows]}


def report(a: Side, b: Side, plan: float | None = None) -> dict[str, Any]:
    """The comparison as plain data: per column A, B, A - B, its 95% interval and whether
    it is within noise; with ``plan``, the seeds per side a gap of that many points needs."""
    differences = compare(a, b)
    if not differences:
        raise HarnessError(f"{a.label} and {b.label} share no benchmark or category")
    out: dict[str, Any] = {
        "a": {"label": a.label, "runs": a.runs},
        "b": {"label": b.label, "runs": b.runs},
        "differences": [{**asdict(d), "difference": d.difference,
                         "within_noise": d.within_noise} for d in differences],
    }
    if plan is not None:
        if not plan > 0:
            raise HarnessError(f"--plan {plan:g}: give the gap to detect in points, above 0")
        out["plans"] = [asdict(seeds_needed(a, b, d.column, plan)) for d in differences]
    return out


def _selector(s: Setting, among: list[Setting], full: bool = False) -> str:
    """The selector naming ``s``: its encoder and the fields it differs in from ``among``
    (every named field with ``full``); its config hash only where the names are not enough."""
    named = {name: attr for name, attr in SELECTOR_FIELDS.items() if name != "config"}
    parts = [f"encoder={s.encoder_id}"]
    for name, attr in named.items():
        if attr != "encoder_id" and (full or len({getattr(o, attr) for o in among}) > 1):
            parts.append(f"{name}={getattr(s, attr)}")
    alike = [o for o in among if all(getattr(o, a) == getattr(s, a) for a in named.values())]
    if len(alike) > 1:
        parts.append(f"config={s.setting_hash}")
    return ",".join(parts)


def _no_match(store: Store, text: str, wanted: dict[str, str]) -> str:
    settings = store.settings()
    encoders = sorted({s.encoder_id for s in settings})
    encoder = wanted.get("encoder_id")
    if encoder is not None and encoder not in encoders:
        return (f"no finished run or setting {text!r}; encoders with finished runs: "
                f"{', '.join(encoders) or '(none)'}")
    same = [s for s in settings if encoder is None or s.encoder_id == encoder]
    return (f"no setting matches {text!r}; valid: "
            f"{' | '.join(_selector(s, same, full=True) for s in same[:8]) or '(none)'}")
