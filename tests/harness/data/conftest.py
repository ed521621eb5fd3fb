"""Fashion-MNIST as IDX files, written small for tests that need to know what each photo is."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from harness.data import fashion_mnist

TRAIN_INK, TEST_INK = 255, 80
"""Every photo of the fake release is one flat square of ink: a train photo's is full, a t10k
photo's a quarter, so a rendered item says which split its photo came from."""


def write_idx(folder: Path, split: str, images: np.ndarray, labels: np.ndarray) -> None:
    """A split's two IDX files as the release writes them (big-endian header, uint8 data)."""
    folder.mkdir(parents=True, exist_ok=True)
    images_name, labels_name = fashion_mnist.file_names(split)
    header = np.array([0x0803, *images.shape], ">u4").tobytes()
    (folder / images_name).write_bytes(gzip.compress(header + images.astype(np.uint8).tobytes()))
    header = np.array([0x0801, len(labels)], ">u4").tobytes()
    (folder / labels_name).write_bytes(gzip.compress(header + labels.astype(np.uint8).tobytes()))


@pytest.fixture
def flat_fashion_mnist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A release of flat photos (three per class and split), found through the environment."""
    folder = tmp_path / "fashion-mnist"
    labels = np.repeat(np.arange(len(fashion_mnist.CLASSES)), 3)
    for split, ink in (("train", TRAIN_INK), ("t10k", TEST_INK)):
        write_idx(folder, split, np.full((len(labels), 28, 28), ink), labels)
    monkeypatch.setenv(fashion_mnist.ENV_VAR, str(folder))
    return folder
