"""Run folders as a sweep leaves them, for tests of pooled and paired intervals: predictions
graded right or wrong as told, scored by the real runner (which keeps the bootstrap draws
beside them) and a record holding those scores."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness.eval.benchmarks import BENCHMARKS
from harness.eval.bootstrap import replicates_path
from harness.eval.runner import Prediction, score, write_predictions
from harness.record import PREDICTIONS_DIR, EncoderInfo, ResultRecord, write_record

MMVP_PAIRS = 150
REALWORLDQA_ITEMS = 100


def predictions(right: Sequence[bool], pairs: bool) -> list[Prediction]:
    """One prediction per entry of ``right``; MMVP's come in pairs (groups of two)."""
    return [Prediction(idx=str(i), task="", type="", source="", answer="A",
                       output="A" if ok else "B", extracted="A" if ok else "B", correct=ok,
                       n_choices=2, credit=float(ok), group=str(i // 2) if pairs else "")
            for i, ok in enumerate(right)]


def write_scored_run(root: Path, key: str, encoder: str, *, seed: int = 0,
                     mmvp_right: Sequence[bool], realworldqa_right: Sequence[bool] = (),
                     realworldqa_blind_right: Sequence[bool] = (),
                     group: str = "clip", recipe: str = "frozen-1stage") -> Path:
    """A finished run folder under ``root``; returns it. ``realworldqa_blind_right``: also
    scored without the image (``blind_eval``), as ``accuracy_blind``."""
    run_dir = root / key
    scores = []
    for name, right, pairs, variant in (("mmvp", mmvp_right, True, ""),
                                        ("realworldqa", realworldqa_right, False, ""),
                                        ("realworldqa", realworldqa_blind_right, False,
                                         "_blind")):
        if not right:
            continue
        path = run_dir / PREDICTIONS_DIR / f"{name}{variant}.jsonl"
        made = predictions(right, pairs)
        write_predictions(path, made)
        scores += score(BENCHMARKS.get(name), made, "test-data", variant=variant,
                        replicates_file=replicates_path(path))
    write_record(run_dir, ResultRecord(
        run_key=key, status="done", smoke=False,
        encoder=EncoderInfo(id=encoder, group=group, supervision="language",
                            architecture="vit", resolution=224, tiny=False),
        recipe=recipe, llm="tiny-llm", connector="mlp2x_gelu", seed=seed, preset="test",
        config={"encoder": encoder, "seed": seed}, scores=tuple(scores),
        started_at="2026-12-06T00:00:00+00:00", finished_at="2026-12-06T00:01:00+00:00",
        wall_seconds=60.0))
    return run_dir


def pattern(right_pairs: int, shift: int = 0, pairs: int = MMVP_PAIRS) -> list[bool]:
    """MMVP answers with ``right_pairs`` whole pairs right, starting at pair ``shift``."""
    good = {(shift + p) % pairs for p in range(right_pairs)}
    return [i // 2 in good for i in range(2 * pairs)]


def study(root: Path) -> list[Path]:
    """A small study: ``enc-a`` and ``enc-c`` (three seeds each, about equally good), and
    ``enc-b`` (one seed under two recipes, clearly worse). Returns the run folders."""
    rwqa = [i % 3 != 0 for i in range(REALWORLDQA_ITEMS)]
    folders = []
    for seed, shift in enumerate((0, 5, 10)):
        folders.append(write_scored_run(root, f"a{seed}", "enc-a", seed=seed,
                                        mmvp_right=pattern(80 + 3 * seed, shift),
                                        realworldqa_right=rwqa))
        folders.append(write_scored_run(root, f"c{seed}", "enc-c", seed=seed, group="ssl",
                                        mmvp_right=pattern(81 + 2 * seed, shift + 1),
                                        realworldqa_right=rwqa))
    worse = [i % 2 == 0 for i in range(REALWORLDQA_ITEMS)]
    for key, recipe in (("b0", "frozen-1stage"), ("b1", "unfrozen-2stage")):
        folders.append(write_scored_run(root, key, "enc-b", group="convnext", recipe=recipe,
                                        mmvp_right=pattern(60), realworldqa_right=worse))
    return folders
