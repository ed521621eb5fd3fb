"""The benchmark registry: each entry knows how to load its official file layout, how to prompt,
and how its numbers are aggregated, with the versions and hashes stored beside every score."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.eval.prompts import MULTIPLE_CHOICE_HASH, multiple_choice_prompt
from harness.eval.scoring import Judged, Metric, accuracy_slices, cvbench_scores
from harness.registry import Registry

CATEGORIES = ("General", "Knowledge", "OCR & Chart", "Vision-Centric")


@dataclass(frozen=True)
class Benchmark:
    name: str
    version: str
    category: str
    description: str
    load: Callable[[Path], list[dict[str, Any]]]
    """Rows in CV-Bench's layout (idx, type, task, source, choices, prompt, answer, image)."""
    score: Callable[[list[Judged]], list[Metric]]
    prompt: Callable[[dict[str, Any]], str] = lambda row: multiple_choice_prompt(row["prompt"])
    prompt_hash: str = MULTIPLE_CHOICE_HASH
    label_patch: str = ""

    def fingerprint(self) -> dict[str, str]:
        """What decides this benchmark's numbers: part of every run key."""
        return {"name": self.name, "version": self.version, "prompt_hash": self.prompt_hash,
                "label_patch": self.label_patch}


BENCHMARKS: Registry[Benchmark] = Registry(
    "benchmark", "harness.benchmarks", name_of=lambda b: b.name, item_type=Benchmark
)


def file_hash(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def load_cvbench_layout(data_dir: Path) -> list[dict[str, Any]]:
    """``test.jsonl`` rows with images relative to ``data_dir`` (CV-Bench's layout)."""
    path = Path(data_dir) / "test.jsonl"
    if not path.exists():
        raise HarnessError(f"no test.jsonl in {data_dir} (expected CV-Bench's layout)")
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            missing = {"idx", "type", "task", "source", "choices", "prompt", "answer", "image"}
            missing -= set(row)
        except json.JSONDecodeError as exc:
            raise HarnessError(f"{path}:{n}: not JSON: {exc}") from None
        if missing:
            raise HarnessError(f"{path}:{n}: missing field {sorted(missing)[0]!r}")
        rows.append(row)
    return rows


def _cvbench_and_slices(judged: list[Judged]) -> list[Metric]:
    return cvbench_scores(judged) + accuracy_slices(judged)


BENCHMARKS.register(Benchmark(
    name="probe",
    version="1",
    category="Vision-Centric",
    description="Procedural shapes (count, left/right, depth order) scored like CV-Bench",
    load=load_cvbench_layout,
    score=_cvbench_and_slices,
))
