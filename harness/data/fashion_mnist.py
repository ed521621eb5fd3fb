"""Fashion-MNIST (Zalando, MIT licence): 70,000 real 28x28 grayscale product photos of clothing
in 10 classes, read from its four IDX files as Debian's ``dataset-fashion-mnist`` installs them
(or from ``$HARNESS_FASHION_MNIST``). Nothing is downloaded."""

from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from harness.errors import HarnessError

ENV_VAR = "HARNESS_FASHION_MNIST"
DEBIAN_FOLDER = Path("/usr/share/datasets/fashion-mnist")
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle boot")
"""The official class names, indexed by label."""
SPLITS = ("train", "t10k")
"""The release's splits (its file prefixes): 60,000 photos to train on, 10,000 to test on."""
SIDE = 28
# IDX headers: a magic number (0x0000 0803 for uint8 images of 3 dimensions, 0x0000 0801 for
# uint8 labels of 1), then each dimension as a big-endian uint32.
IMAGES_MAGIC, LABELS_MAGIC = 0x0803, 0x0801


def file_names(split: str) -> tuple[str, str]:
    """The images and labels file of a split, as the release names them."""
    return f"{split}-images-idx3-ubyte.gz", f"{split}-labels-idx1-ubyte.gz"


def folder() -> Path:
    """Where the IDX files are looked for: ``$HARNESS_FASHION_MNIST``, else Debian's."""
    return Path(os.environ.get(ENV_VAR) or DEBIAN_FOLDER).expanduser()


def check() -> Path:
    """The folder holding the four IDX files, or a one-line error naming where it looked and
    how to get them (checked when a sweep is planned, before anything trains)."""
    where = folder()
    missing = [n for split in SPLITS for n in file_names(split) if not (where / n).is_file()]
    if missing:
        raise HarnessError(
            f"Fashion-MNIST not found: {where} has no {missing[0]} (the objects probe is drawn"
            f" from it); install it with `apt-get install dataset-fashion-mnist`, or set"
            f" {ENV_VAR} to a folder holding its four IDX .gz files")
    return where


@dataclass(frozen=True)
class Split:
    """One split's photos (``uint8 [n, 28, 28]``, 0 the background, 255 the darkest ink: the
    release stores the photos negated) and their labels (``uint8 [n]``)."""

    images: np.ndarray
    labels: np.ndarray

    def indices_of(self, label: int) -> np.ndarray:
        return np.flatnonzero(self.labels == label)


def load(split: str) -> Split:
    """A split (``train`` or ``t10k``) from ``folder()``, read once per process."""
    if split not in SPLITS:
        raise HarnessError(f"Fashion-MNIST has no split {split!r}; valid: {', '.join(SPLITS)}")
    return _load(check(), split)


@cache
def _load(where: Path, split: str) -> Split:
    images_file, labels_file = (where / n for n in file_names(split))
    images = _read_idx(images_file, IMAGES_MAGIC, 3)
    labels = _read_idx(labels_file, LABELS_MAGIC, 1)
    if images.shape[1:] != (SIDE, SIDE) or len(labels) != len(images):
        raise HarnessError(f"{where}: {split} holds {len(labels)} labels for"
                           f" {len(images)} images of {list(images.shape[1:])} pixels; expected"
                           f" one label per {SIDE}x{SIDE} image")
    if len(labels) and labels.max() >= len(CLASSES):
        raise HarnessError(f"{labels_file}: label {labels.max()} is not one of Fashion-MNIST's"
                           f" {len(CLASSES)} classes")
    return Split(images, labels)


def _read_idx(path: Path, magic: int, dimensions: int) -> np.ndarray:
    try:
        raw = gzip.decompress(path.read_bytes())
    except (OSError, EOFError) as exc:  # a truncated or not-gzip file
        raise HarnessError(f"{path}: unreadable ({exc}); reinstall dataset-fashion-mnist") from None
    header = [int(v) for v in np.frombuffer(raw, ">u4", count=1 + dimensions)]
    shape = tuple(header[1:])
    if header[0] != magic or len(raw) != 4 * len(header) + int(np.prod(shape)):
        raise HarnessError(f"{path}: not an IDX file of uint8 with {dimensions} dimension(s)"
                           f" (header {header}, {len(raw)} bytes)")
    return np.frombuffer(raw, np.uint8, offset=4 * len(header)).reshape(shape)


def fingerprint() -> str:
    """A hash of the four files' bytes: which copy of the release a probe was drawn from."""
    return _fingerprint(check())


@cache
def _fingerprint(where: Path) -> str:
    digest = hashlib.sha256()
    for split in SPLITS:
        for name in file_names(split):
            digest.update(name.encode() + b"\0" + (where / name).read_bytes())
    return digest.hexdigest()[:12]
