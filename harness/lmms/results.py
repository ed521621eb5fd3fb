"""lmms-eval's results JSON read as harness scores: each task's metrics become ``Score``s of
kind ``external`` with ``scorer = "lmms-eval <version>"``, the task's version and a hash of the
task's config (what decides its numbers besides the model). The values are kept exactly as
lmms-eval wrote them (its scale: most metrics 0-1, MME in points).

The layout is checked before anything is read into scores: a missing or malformed field is one
error naming it, and nothing from that file is stored.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.published.reader import PublishedRow
from harness.record import Score

SCORER = "lmms-eval"
EXTERNAL_MODEL = "external model"
"""The kind of subject an imported lmms-eval run is: a model this harness did not train."""
NO_FILTER = "none"
"""The filter lmms-eval names when it applies none (``exact_match,none``)."""


@dataclass(frozen=True)
class TaskResult:
    task: str
    version: str
    config_hash: str
    n: int
    metrics: dict[str, float]
    """Metric (``exact_match``, or ``exact_match:flexible-extract`` under a filter) -> value."""


@dataclass(frozen=True)
class LmmsResults:
    path: Path
    lmms_eval_version: str
    model: str
    """What lmms-eval says it evaluated (``model_name``, else the model's arguments)."""
    tasks: tuple[TaskResult, ...]

    @property
    def scorer(self) -> str:
        return f"{SCORER} {self.lmms_eval_version}"

    def reference_rows(self, model: str) -> list[PublishedRow]:
        """The results as reference rows for ``model`` (named by the user): one per task and
        metric, under a column of their own (``lmms-eval:mmstar average``), since lmms-eval's
        scale (mostly 0-1) and rules are not the harness's."""
        if not model.strip():
            raise HarnessError("--model is empty: name the model these results are of")
        source = f"{self.scorer}: {self.path.name}"
        return [PublishedRow(line=0, source=source, subject=model.strip(), kind=EXTERNAL_MODEL,
                             group="", supervision="", metric=column(t.task, metric),
                             level="benchmark", category="", value=value, encoder_id=None,
                             paper=self.scorer)
                for t in self.tasks for metric, value in sorted(t.metrics.items())]

    def scores(self) -> list[Score]:
        scorer = self.scorer
        return [Score(benchmark=external_benchmark(t.task), metric=metric, subset="overall",
                      value=value, n=t.n,
                      benchmark_version=t.version, prompt_hash=t.config_hash,
                      kind="external", scorer=scorer)
                for t in self.tasks for metric, value in sorted(t.metrics.items())]


def external_benchmark(task: str) -> str:
    """The benchmark name an lmms-eval task's scores are stored under in a run's record:
    never a harness benchmark's name, so the two scorers' numbers of one run never take each
    other's place (and a run keeps one score per benchmark, metric and subset)."""
    return f"{SCORER}:{task}"


def column(task: str, metric: str) -> str:
    """The leaderboard column an imported lmms-eval metric goes under."""
    return f"{SCORER}:{task} {metric}"


def _field(data: dict, name: str, kind: type, where: str) -> Any:
    if name not in data:
        raise HarnessError(f"{where}: no {name!r} field; is this an lmms-eval results file?")
    value = data[name]
    if not isinstance(value, kind):
        raise HarnessError(f"{where}: field {name!r} is a {type(value).__name__}, expected a "
                           f"{kind.__name__}")
    return value


def config_hash(config: dict) -> str:
    """A hash of a task's config as lmms-eval wrote it (prompts, generation settings, data)."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_results(path: Path, version: str | None = None) -> LmmsResults:
    """``version``: the lmms-eval that wrote the file, where known (a pip install writes no
    version of its own into it, only ``lmms_eval_version = "unknown@unknown"``)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise HarnessError(f"{path}: not a readable JSON file ({exc})") from None
    if not isinstance(data, dict):
        raise HarnessError(f"{path}: expected a JSON object, got {type(data).__name__}")
    where = str(path)
    results = _field(data, "results", dict, where)
    configs = _field(data, "configs", dict, where)
    versions = _field(data, "versions", dict, where)
    samples = _field(data, "n-samples", dict, where)
    written = _field(data, "lmms_eval_version", str, where)
    tasks = []
    for task, values in sorted(results.items()):
        here = f"{where}: results[{task!r}]"
        if not isinstance(values, dict):
            raise HarnessError(f"{here} is a {type(values).__name__}, expected an object")
        if task not in configs:  # a group's aggregate: its tasks are listed on their own
            continue
        metrics = {}
        for key, value in values.items():
            metric, sep, filter_name = key.partition(",")
            if not sep or "_stderr" in metric:
                continue
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise HarnessError(f"{here}[{key!r}] is {value!r}, expected a number")
            metrics[metric if filter_name == NO_FILTER else f"{metric}:{filter_name}"] = value
        counts = samples.get(task)
        if not isinstance(counts, dict) or not isinstance(counts.get("effective"), int):
            raise HarnessError(f"{where}: n-samples[{task!r}] has no 'effective' count")
        tasks.append(TaskResult(task=task, version=str(versions.get(task, "")),
                                config_hash=config_hash(configs[task]),
                                n=counts["effective"], metrics=metrics))
    if not tasks:
        raise HarnessError(f"{where}: no task results in 'results'")
    model = str(data.get("model_name") or _field(data, "config", dict, where).get(
        "model_args", ""))
    return LmmsResults(path=path, lmms_eval_version=version or written, model=model,
                       tasks=tuple(tasks))
