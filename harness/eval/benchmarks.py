"""The benchmark registry: each entry knows how to load its official file layout, how to prompt,
how to read an answer and how its numbers are aggregated, with the versions and hashes stored
beside every score. Cambrian-1's Table 5 suite is built in; a plugin adds more through the
``harness.benchmarks`` entry-point group."""

from __future__ import annotations

from pathlib import Path

from harness.eval import (
    ai2d,
    chartqa,
    cvbench,
    docvqa,
    mathvista,
    mmbench,
    mme,
    mmmu,
    mmvp,
    ocrbench,
    realworldqa,
    seed,
    sqa,
    vqa,
)
from harness.eval.cvbench import load_cvbench_layout
from harness.eval.scoring import Judged, Metric, accuracy_slices, cvbench_scores
from harness.eval.spec import Benchmark, Item, files_hash
from harness.registry import Registry

__all__ = ["BENCHMARKS", "Benchmark", "Item", "file_hash", "load_cvbench_layout"]

BENCHMARKS: Registry[Benchmark] = Registry(
    "benchmark", "harness.benchmarks", name_of=lambda b: b.name, item_type=Benchmark
)


def declared_headline(name: str) -> str | None:
    """The headline metric a registered benchmark declares, or None for an unknown name."""
    return BENCHMARKS.get(name).metric if name in BENCHMARKS else None


HEADLINE_VARIANTS = ("", "_blind", "_loglik", "_loglik_blind")
"""The headline metric as each scoring pass names it (``harness.eval.runner``)."""


def declared_range(name: str, metric: str) -> tuple[float, float] | None:
    """The range a registered benchmark's headline metric (in any scoring pass) is declared
    on: 0 to its full scale (100, or MME's points); its vision reliance, minus to plus that.
    None for other metrics and for benchmarks this installation does not know."""
    if name not in BENCHMARKS:
        return None
    benchmark = BENCHMARKS.get(name)
    for variant in HEADLINE_VARIANTS:
        if metric == benchmark.metric + variant:
            return 0.0, benchmark.scale
        if metric == benchmark.metric + variant + "_vision_reliance":
            return -benchmark.scale, benchmark.scale
    return None


def file_hash(path: Path) -> str:
    return files_hash(Path(path).parent, [Path(path).name])


def _cvbench_and_slices(judged: list[Judged]) -> list[Metric]:
    return cvbench_scores(judged) + accuracy_slices(judged)


def _probe(name: str, description: str) -> Benchmark:
    """A generated probe's test set (each a kind of ``harness.data.probes``, which names it
    here): CV-Bench's layout and scoring."""
    return Benchmark(
        name=name,
        version="1",
        category="Vision-Centric",
        description=description,
        load=load_cvbench_layout,
        score=_cvbench_and_slices,
        annotations=("test.jsonl",),
        layout=cvbench.LAYOUT,
        split="test",
        max_new_tokens=6,
        resample_within="source",
    )


SHAPES_PROBE = BENCHMARKS.register(_probe(
    "probe", "Procedural shapes (count, left/right, depth order) scored like CV-Bench"))
OBJECTS_PROBE = BENCHMARKS.register(_probe(
    "probe-objects", "Fashion-MNIST objects on a canvas (count, left/right, larger/nearer)"
                     " scored like CV-Bench"))

# In Cambrian-1 Table 5's order, which is the order of its columns and categories
# (``harness.eval.categories``); where two benchmarks fill one column, the first is preferred
# (TextVQA: Cambrian's template, with OCR tokens).
for _benchmark in (
    mme.BENCHMARK, mmbench.BENCHMARK, seed.BENCHMARK, vqa.GQA,
    sqa.BENCHMARK, mmmu.BENCHMARK, mathvista.BENCHMARK, ai2d.BENCHMARK,
    chartqa.BENCHMARK, ocrbench.BENCHMARK, vqa.TEXTVQA_OCR, vqa.TEXTVQA, docvqa.BENCHMARK,
    *mmvp.BENCHMARKS, realworldqa.BENCHMARK, cvbench.BENCHMARK,
):
    BENCHMARKS.register(_benchmark)
