"""The generated probes a preset trains on (``[data] kinds``): each kind is written to a folder
of its own under the run's probe folder and its test set is scored by a benchmark of its own;
with several kinds, the training conversations of all of them are mixed. The benchmarks are
declared in ``harness.eval.benchmarks``; this module names them.

The preset checks kind names against it, so each kind's generator is imported only when it
writes (drawing images needs PIL and the photographs, checking a name does not)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.config import KEPT_OUT_AT_DEFAULT
from harness.data.fashion_mnist import check
from harness.data.probe import write_probe
from harness.data.probe_format import ProbeFiles
from harness.data.probe_objects import write_objects_probe
from harness.errors import HarnessError
from harness.eval.benchmarks import OBJECTS_PROBE, SHAPES_PROBE


@dataclass(frozen=True)
class ProbeKind:
    """One kind of generated probe: how it is written, where, and what scores it."""

    name: str
    benchmark: str
    """The benchmark that scores this kind's test set (``harness.eval.benchmarks``)."""
    folder: str
    """Where it is written, relative to the run's probe folder."""
    write: Callable[..., ProbeFiles]
    """``write(folder, seed=, n_align=, n_train=, n_test=, image_size=)``."""
    check: Callable[[], object] | None = None
    """Raises a one-line ``HarnessError`` when what the kind is drawn from is missing
    (called at plan time)."""


def _write_shapes(root: Path, **sizes: int) -> ProbeFiles:

    return write_probe(root, **sizes)


def _write_objects(root: Path, **sizes: int) -> ProbeFiles:

    return write_objects_probe(root, **sizes)


def _check_objects() -> object:

    return check()


KINDS = {k.name: k for k in (
    # The shapes probe stays where it was before there were kinds, so its folders and the
    # ``probe`` benchmark's folder are the same as ever.
    ProbeKind("shapes", benchmark=SHAPES_PROBE.name, folder="", write=_write_shapes),
    ProbeKind("objects", benchmark=OBJECTS_PROBE.name, folder="objects",
              write=_write_objects, check=_check_objects),
)}
DEFAULT_KINDS = ("shapes",)
PROBE_BENCHMARKS = {k.benchmark: k for k in KINDS.values()}
"""The kind whose test set a probe benchmark scores."""


@dataclass(frozen=True)
class ProbeData:
    """The generated vision-centric probes (see ``harness.data.probes``), each at this size."""

    seed: int = 0
    n_align: int = 600
    n_train: int = 1200
    n_test: int = 300
    image_size: int = 128
    kinds: tuple[str, ...] = field(default=DEFAULT_KINDS,
                                   metadata={KEPT_OUT_AT_DEFAULT: True})
    """The probes generated and trained on: ``shapes`` (coloured shapes, scored by the
    ``probe`` benchmark) and ``objects`` (Fashion-MNIST photos, scored by ``probe-objects``).
    With both, their training conversations are mixed. Kept in the canonical order, so
    ``["objects", "shapes"]`` is the same data as ``["shapes", "objects"]``."""

    def __post_init__(self) -> None:
        unknown = [k for k in self.kinds if k not in KINDS]
        if unknown or not self.kinds or len(set(self.kinds)) < len(self.kinds):
            bad = f"kind {unknown[0]!r}" if unknown else f"kinds {list(self.kinds)}"
            raise HarnessError(f"[data] {bad}: give one or more of {', '.join(KINDS)}, each "
                               "once")
        object.__setattr__(self, "kinds", tuple(k for k in KINDS if k in self.kinds))


@dataclass(frozen=True)
class Probes:
    """The probes of one run, written under ``root``."""

    root: Path
    files: dict[str, ProbeFiles]
    """Per kind, in ``[data] kinds`` order."""

    def conversations(self, split: str) -> list[dict]:
        """The ``align`` or ``train`` conversations of every kind, images relative to
        ``root``, the kinds taking turns row by row: mixed the same way on every run, and
        any prefix of the list (a stage capped by ``samples``) holds every kind."""
        per_kind = [[_under(KINDS[kind].folder, row) for row in
                     json.loads(getattr(files, split).read_text())]
                    for kind, files in self.files.items()]
        return [row for turn in itertools.zip_longest(*per_kind) for row in turn
                if row is not None]


def _under(folder: str, row: dict) -> dict:
    return {**row, "image": f"{folder}/{row['image']}"} if folder else row


def write_probes(root: Path, data: ProbeData) -> Probes:
    """Write (or reuse) each probe ``data.kinds`` names, each at ``data``'s size."""
    sizes = {"seed": data.seed, "n_align": data.n_align, "n_train": data.n_train,
             "n_test": data.n_test, "image_size": data.image_size}
    return Probes(Path(root), {kind: KINDS[kind].write(Path(root) / KINDS[kind].folder,
                                                       **sizes)
                               for kind in data.kinds})


def check_kinds(kinds: tuple[str, ...]) -> None:
    """What each kind is drawn from is there (a one-line error otherwise): at plan time,
    before anything is trained."""
    for kind in kinds:
        if KINDS[kind].check is not None:
            KINDS[kind].check()
