"""Fashion-MNIST is read from its IDX files where Debian installs them (or $HARNESS_FASHION_MNIST),
and a missing or broken copy is a one-line error saying where it looked and how to get it."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from harness.data import fashion_mnist
from harness.errors import HarnessError

from .conftest import write_idx


def test_the_installed_release_has_both_splits_of_all_ten_classes() -> None:
    train, test = fashion_mnist.load("train"), fashion_mnist.load("t10k")
    assert train.images.shape == (60_000, 28, 28) and test.images.shape == (10_000, 28, 28)
    assert np.bincount(train.labels).tolist() == [6000] * 10
    assert np.bincount(test.labels).tolist() == [1000] * 10
    # Negated photos: the white studio background is 0 in (nearly) every corner.
    assert train.images.dtype == np.uint8 and (train.images[:, 0, 0] == 0).mean() > 0.99


def test_a_folder_from_the_environment_is_read(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    images = np.arange(2 * 28 * 28).reshape(2, 28, 28) % 256
    for split in fashion_mnist.SPLITS:
        write_idx(tmp_path, split, images, np.array([8, 7]))
    monkeypatch.setenv(fashion_mnist.ENV_VAR, str(tmp_path))
    split = fashion_mnist.load("t10k")
    assert (split.images == images).all() and split.indices_of(7).tolist() == [1]
    assert fashion_mnist.check() == tmp_path


def test_missing_files_are_one_line_errors_naming_the_folder_and_the_fix(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(fashion_mnist.ENV_VAR, str(tmp_path / "nowhere"))
    with pytest.raises(HarnessError) as caught:
        fashion_mnist.load("train")
    message = str(caught.value)
    assert "\n" not in message and str(tmp_path / "nowhere") in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert fashion_mnist.ENV_VAR in message


def test_a_file_that_is_not_idx_is_refused(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    for split in fashion_mnist.SPLITS:
        write_idx(tmp_path, split, np.zeros((1, 28, 28)), np.array([0]))
    (tmp_path / fashion_mnist.file_names("train")[1]).write_bytes(gzip.compress(b"\0" * 12))
    monkeypatch.setenv(fashion_mnist.ENV_VAR, str(tmp_path))
    with pytest.raises(HarnessError, match="not an IDX file"):
        fashion_mnist.load("train")
