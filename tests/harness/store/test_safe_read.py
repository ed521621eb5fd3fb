"""Reading untrusted run files: regular files only, under a cap, never blocking."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.store import safe_read
from harness.store.safe_read import digest_lines, read_regular

from .special_files import finishes


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "record.json"
    os.mkfifo(fifo)
    for read in (lambda: read_regular(fifo, 1000), lambda: digest_lines(fifo, 1000)):
        with pytest.raises(HarnessError, match="is a FIFO; only regular files are read"):
            finishes(read, fifos=(fifo,))


def test_a_link_to_dev_zero_is_refused_before_reading(tmp_path: Path) -> None:
    link = tmp_path / "probe.jsonl"
    link.symlink_to("/dev/zero")
    with pytest.raises(HarnessError, match="is a character device"):
        finishes(lambda: digest_lines(link, 1 << 40))
    with pytest.raises(HarnessError, match="is a folder"):
        read_regular(tmp_path, 1000)


def test_a_file_over_the_limit_is_refused_naming_both(tmp_path: Path) -> None:
    path = tmp_path / "record.json"
    path.write_bytes(b"x" * 101)
    with pytest.raises(HarnessError, match=r"record.json: 101 bytes or more, over the limit "
                                           r"of 100 bytes"):
        read_regular(path, 100)
    with pytest.raises(HarnessError, match="over the limit"):
        digest_lines(path, 100)
    assert read_regular(path, 101) == b"x" * 101


def test_lines_are_counted_across_chunks_as_before(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(safe_read, "CHUNK", 3)  # every line straddles a chunk boundary
    data = b'{"a": 1}\n\n   \n{"b": 22}\r\n{"c": 3}'
    path = tmp_path / "p.jsonl"
    path.write_bytes(data)
    expected = sum(1 for line in data.splitlines() if line.strip())
    assert digest_lines(path, 1000) == (expected, hashlib.sha256(data).hexdigest()) == (
        3, hashlib.sha256(data).hexdigest())
    path.write_bytes(b"")
    assert digest_lines(path, 1000)[0] == 0
