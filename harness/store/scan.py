"""Find the run folders under a run root, and say which folders were not looked into and why:
nothing is left out silently.

A run folder is one that holds a ``record.json``; nothing under it is searched further.
Symlinked folders are never followed: one pointing inside the root would find the same run
twice (its real folder is found on its own), one pointing outside would let a link reach
folders the root's owner never put there. Both are listed as skipped, with their target; to
ingest a linked folder outside the root, name it (``harness ingest TARGET``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from harness.record import RECORD_FILE


@dataclass
class RecordScan:
    records: list[Path] = field(default_factory=list)
    """Each run folder's ``record.json``, sorted."""
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    """``(folder, why)`` for each symlinked folder not followed (by design, not a fault)."""
    errors: list[tuple[Path, str]] = field(default_factory=list)
    """``(folder, why)`` for each folder that could not be read: its runs, if any, are missing."""


def scan_records(root: Path) -> RecordScan:
    """Every ``record.json`` under ``root`` (a run folder or a folder of run folders). The root
    itself is followed if it is a link: naming it is the choice to read it."""
    root = Path(root).resolve()
    scan = RecordScan()
    _walk(root, root, scan)
    scan.records.sort()
    return scan


def _walk(folder: Path, root: Path, scan: RecordScan) -> None:
    try:
        with os.scandir(folder) as found:
            entries = sorted(found, key=lambda e: e.name)
    except OSError as exc:
        scan.errors.append((folder, f"folder not readable ({exc.strerror or exc}); its runs, "
                                    "if any, are not ingested"))
        return
    if any(entry.name == RECORD_FILE for entry in entries):
        scan.records.append(folder / RECORD_FILE)
        return
    for entry in entries:
        path = folder / entry.name
        try:
            if entry.is_symlink():
                if os.path.isdir(path):  # a link to a file is no folder of runs
                    scan.skipped.append((path, _link_reason(path, root)))
            elif entry.is_dir(follow_symlinks=False):
                _walk(path, root, scan)
        except OSError as exc:
            scan.errors.append((path, f"not readable ({exc.strerror or exc})"))


def _link_reason(link: Path, root: Path) -> str:
    target = Path(os.path.realpath(link))
    if target.is_relative_to(root):
        return f"symlink to {target}, inside the root: not followed (read where it lies)"
    return (f"symlink to {target}, outside the root {root}: not followed (ingest that folder "
            "by name to include it)")
