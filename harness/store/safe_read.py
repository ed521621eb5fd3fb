"""Read files from run folders without trusting them: regular files only, and no more than a
cap, so a FIFO, a device (a link to ``/dev/zero``) or a huge file costs one error, not a hung or
exhausted ingest."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from harness.errors import HarnessError

MiB = 1 << 20
RECORD_LIMIT = 64 * MiB
"""A ``record.json`` is a few KiB; anything near this is not one."""
FILE_LIMIT = 1024 * MiB
"""Per predictions or bootstrap-draws file beside a record (``harness ingest --max-file-mb``)."""
CHUNK = MiB

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character "
          "device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def read_regular(path: Path, limit: int) -> bytes:
    """The whole of ``path``, refused (HarnessError) unless it is a regular file of at most
    ``limit`` bytes."""
    with open_regular(path, limit) as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:  # grew after the size check
        raise _too_big(path, len(data), limit)
    return data


def digest_lines(path: Path, limit: int) -> tuple[int, str]:
    """(non-blank lines, sha256) of a regular file of at most ``limit`` bytes, read in chunks
    so memory stays flat however long its lines are."""
    digest = hashlib.sha256()
    items, total, open_line = 0, 0, False
    with open_regular(path, limit) as fh:
        while chunk := fh.read(CHUNK):
            total += len(chunk)
            if total > limit:
                raise _too_big(path, total, limit)
            digest.update(chunk)
            *ended, rest = chunk.split(b"\n")
            for part in ended:
                items += open_line or bool(part.strip())
                open_line = False
            open_line = open_line or bool(rest.strip())
    return items + open_line, digest.hexdigest()


@contextmanager
def open_regular(path: Path, limit: int) -> Iterator[BinaryIO]:
    """``path`` opened for reading once it is known to be a regular file within ``limit``.

    Checked before opening (opening some devices has effects of its own) and again on the
    open file, in case the name was swapped in between; ``O_NONBLOCK`` keeps a FIFO that
    slipped through from blocking the open."""
    _check(path, os.stat(path), limit)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        _check(path, os.fstat(fd), limit)
        fh = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with fh:
        yield fh


def _check(path: Path, info: os.stat_result, limit: int) -> None:
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a file")
        raise HarnessError(f"{path} is {kind}; only regular files are read")
    if info.st_size > limit:
        raise _too_big(path, info.st_size, limit)


def _too_big(path: Path, size: int, limit: int) -> HarnessError:
    return HarnessError(f"{path}: {size} bytes or more, over the limit of {limit} bytes")
