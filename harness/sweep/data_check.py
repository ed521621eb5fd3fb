"""Plan-time checks of the data root: each training source and benchmark a sweep names is
checked once (not per run) before anything is trained or submitted: its layout, its annotation
files (hashed; the hash is cached by size and modification time, so a warm plan reads no large
file twice) and a seeded sample of its images, which must exist and decode.

``harness data check`` runs the same checks over every image.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from harness.data.sources import DataSource
from harness.errors import HarnessError
from harness.eval.spec import Benchmark
from harness.record import atomic_write_text

IMAGE_SAMPLE = 16
"""Images opened per source or benchmark at plan time (all of them in ``harness data check``)."""
CACHE_FILE = "data-index.json"


@dataclass(frozen=True)
class SourceFacts:
    """What the plan knows of a training source: enough for run keys and sample counts."""

    name: str
    annotations: str
    """The annotation file's path."""
    annotation_hash: str
    entries: int
    text_chars: float = 0.0
    """Mean characters of conversation text per entry (for cost estimates)."""


@dataclass(frozen=True)
class BenchmarkFacts:
    name: str
    folder: str
    dataset_hash: str
    items: int


def combined_hash(parts: Iterable[Any]) -> str:
    """The annotation hash of a mixture: its members' hashes and its balancing settings."""
    return hashlib.sha256(json.dumps(list(parts)).encode()).hexdigest()[:12]


def current_hash(source: DataSource, data_root: Path | None) -> str:
    """The source's annotation hash as its files are now (a run checks it against its plan)."""
    if source.mix:
        return combined_hash([*(current_hash(m, data_root) for m in source.members()),
                              source.threshold, source.short_answer_prompt])
    return annotation_hash(source.annotation_file(data_root))


class DataChecks:
    """One plan's checks: each source and benchmark is looked at once, whatever the number
    of runs that use it; what was hashed is remembered in ``cache_dir/data-index.json``.
    ``image_sample=None`` opens every image and trusts no cache (``harness data check``)."""

    def __init__(self, data_root: Path | None, cache_dir: Path | None,
                 image_sample: int | None = IMAGE_SAMPLE) -> None:
        self.data_root = None if data_root is None else Path(data_root).expanduser()
        self.image_sample = image_sample
        self._cache_path = None if cache_dir is None else Path(cache_dir) / CACHE_FILE
        self._cache = _read_cache(self._cache_path)
        self._dirty = False
        self._sources: dict[str, SourceFacts] = {}
        self._benchmarks: dict[str, BenchmarkFacts] = {}
        if self.data_root is not None and not self.data_root.is_dir():
            raise HarnessError(f"data root {self.data_root}: no such folder")

    # -- training sources -----------------------------------------------------------------
    def source(self, source: DataSource) -> SourceFacts:
        if source.name not in self._sources:
            self._sources[source.name] = self._check_source(source)
        return self._sources[source.name]

    def _check_source(self, source: DataSource) -> SourceFacts:
        if source.mix:
            members = [self.source(m) for m in source.members()]
            limit = source.threshold or max(f.entries for f in members)
            kept = [min(f.entries, limit) for f in members]
            return SourceFacts(
                source.name, " + ".join(f.annotations for f in members),
                combined_hash([*(f.annotation_hash for f in members), source.threshold,
                               source.short_answer_prompt]),
                sum(kept), sum(f.text_chars * n for f, n in zip(members, kept, strict=True))
                / max(1, sum(kept)))
        path = source.annotation_file(self.data_root)
        if not path.is_file():
            raise HarnessError(f"data source {source.name!r}: no {path}; expected "
                               f"{source.root(self.data_root)}/{source.layout()}")
        images = source.images(self.data_root)
        for folder in source.image_folders:
            if not (images / folder).is_dir():
                raise HarnessError(f"data source {source.name!r}: no image folder "
                                   f"{images / folder} (layout: {source.layout()})")
        cached = self._cached(path) if self.image_sample is not None else None
        if cached is not None and "text_chars" in cached:
            return SourceFacts(source.name, str(path), cached["hash"], cached["entries"],
                               cached["text_chars"])
        rows = source.load(self.data_root)
        refs = [r["image"] for r in rows if r.get("image")]
        self._open_images(f"data source {source.name!r}", images, refs)
        chars = sum(len(t.get("value", "")) for r in rows for t in r["conversations"])
        facts = SourceFacts(source.name, str(path), annotation_hash(path), len(rows),
                            chars / max(1, len(rows)))
        self._remember(path, {"hash": facts.annotation_hash, "entries": facts.entries,
                              "text_chars": facts.text_chars})
        return facts

    # -- benchmarks ------------------------------------------------------------------------
    def benchmark(self, benchmark: Benchmark) -> BenchmarkFacts:
        if benchmark.name not in self._benchmarks:
            self._benchmarks[benchmark.name] = self._check_benchmark(benchmark)
        return self._benchmarks[benchmark.name]

    def _check_benchmark(self, benchmark: Benchmark) -> BenchmarkFacts:
        if self.data_root is None:
            raise HarnessError(f"benchmark {benchmark.name!r} is read from "
                               f"DIR/{benchmark.data_folder}/; "
                               "set the data root with --data-root DIR, $HARNESS_DATA or "
                               "data_root in the cluster profile")
        folder = self.data_root / benchmark.data_folder
        if not folder.is_dir():
            raise HarnessError(f"benchmark {benchmark.name!r}: no folder {folder}; expected "
                               f"{benchmark.layout}")
        files = sorted({p for pattern in benchmark.annotations for p in folder.glob(pattern)
                        if p.is_file()})
        key = "|".join(_stamp(p) for p in files)
        cached = self._cache.get(f"benchmark:{folder}")
        if self.image_sample is not None and cached is not None and cached.get("stamp") == key:
            return BenchmarkFacts(benchmark.name, str(folder), cached["hash"], cached["items"])
        try:
            items = benchmark.items(folder)
        except HarnessError as exc:
            raise HarnessError(f"benchmark {benchmark.name!r}: {exc}") from None
        if not items:
            raise HarnessError(f"benchmark {benchmark.name!r}: {folder} holds no items")
        self._open_images(f"benchmark {benchmark.name!r}", folder,
                          [i.image for i in items if i.image is not None])
        facts = BenchmarkFacts(benchmark.name, str(folder), benchmark.dataset_hash(folder),
                               len(items))
        self._cache[f"benchmark:{folder}"] = {"stamp": key, "hash": facts.dataset_hash,
                                              "items": facts.items}
        self._dirty = True
        return facts

    # -- shared ------------------------------------------------------------------------------
    def _open_images(self, what: str, root: Path, refs: Iterable[str | bytes]) -> None:
        refs = list(refs)
        if self.image_sample is not None and len(refs) > self.image_sample:
            refs = random.Random(0).sample(refs, self.image_sample)
        for ref in refs:
            problem = _unreadable(root, ref)
            if problem is not None:
                raise HarnessError(f"{what}: {problem}")

    def _cached(self, path: Path) -> dict[str, Any] | None:
        entry = self._cache.get(f"file:{path}")
        return entry if entry is not None and entry.get("stamp") == _stamp(path) else None

    def _remember(self, path: Path, facts: dict[str, Any]) -> None:
        self._cache[f"file:{path}"] = {"stamp": _stamp(path), **facts}
        self._dirty = True

    def save(self) -> None:
        """Keep what was hashed for the next plan (a plan that checked nothing new writes
        nothing)."""
        if self._dirty and self._cache_path is not None:
            atomic_write_text(self._cache_path, json.dumps(self._cache, indent=1,
                                                           sort_keys=True))
            self._dirty = False


def _unreadable(root: Path, ref: str | bytes) -> str | None:

    try:
        if isinstance(ref, bytes):
            with Image.open(io.BytesIO(ref)) as img:
                img.load()
        else:
            with Image.open(root / ref) as img:
                img.load()
    except FileNotFoundError:
        return f"image {root / str(ref)} is missing"
    except (OSError, ValueError) as exc:
        return f"image {root / ref if isinstance(ref, str) else '(embedded)'} does not " \
               f"decode: {exc}"
    return None


def _stamp(path: Path) -> str:
    st = path.stat()
    return f"{path}:{st.st_size}:{st.st_mtime_ns}"


def annotation_hash(path: Path) -> str:
    """The first 12 hex digits of the file's SHA-256: the annotation revision in run keys."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


def _read_cache(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
