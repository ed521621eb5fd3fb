"""What a run folder holds beside its record, as rows for the store: the per-item prediction
files (item count and content hash) and the kept bootstrap draws. Files that cannot be read
safely are left out and named, never fatal to the ingest."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import HarnessError
from harness.eval.bootstrap import from_bytes
from harness.record import EVAL_DIR, PREDICTIONS_DIR
from harness.store.safe_read import FILE_LIMIT, digest_lines, read_regular

log = logging.getLogger(__name__)
PREDICTIONS_SUFFIX = ".jsonl"
DRAWS_SUFFIX = ".replicates.npz"


@dataclass
class RunFiles:
    """What a run folder holds beside its record, as rows to store."""

    predictions: list[dict] = field(default_factory=list)
    replicates: list[dict] = field(default_factory=list)
    problems: list[tuple[Path, str]] = field(default_factory=list)
    """``(path, message)`` for each folder or file that was left out because it could not be
    read (the rest is still stored; the next ingest picks it up once it is fixed)."""

    def signature(self) -> tuple[frozenset, frozenset]:
        """What the store keeps of these files, to compare with the stored rows."""
        return signature(self.predictions, self.replicates)


def signature(predictions: list[dict], replicates: list[dict]) -> tuple[frozenset, frozenset]:
    """Prediction-file and draws rows (as read or as stored), order aside."""
    return (frozenset(_prediction_key(row) for row in predictions),
            frozenset(_replicate_key(row) for row in replicates))


def read_run_files(run_dir: Path, limit: int = FILE_LIMIT) -> RunFiles:
    """Per-item predictions next to the record and the bootstrap draws kept beside them: the
    sweep's ``predictions/<benchmark>.jsonl`` and ``harness eval``'s ``eval/<benchmark>.jsonl``.
    Where both name a benchmark, the later evaluation's files are the ones kept (its scores
    replaced the sweep's in the record). ``limit``: the most bytes read from one file."""
    out = RunFiles()
    found: dict[str, Path] = {}
    drawn: dict[tuple[str, str, str], dict] = {}
    for folder in (PREDICTIONS_DIR, EVAL_DIR):
        names = _names(run_dir / folder, out)
        for name in names:
            if name.endswith(PREDICTIONS_SUFFIX):
                found[name.removesuffix(PREDICTIONS_SUFFIX)] = run_dir / folder / name
        for name in names:
            if name.endswith(DRAWS_SUFFIX):
                for row in _replicate_rows(run_dir / folder / name, limit, out):
                    drawn[(row["benchmark"], row["metric"], row["subset"])] = row
    out.replicates = list(drawn.values())
    for benchmark, path in sorted(found.items()):
        try:
            items, sha256 = digest_lines(path, limit)
        except (HarnessError, OSError) as exc:
            # Left out of the index now; a later ingest sees the file differ and adds it.
            out.problems.append((path, _reason(exc)))
            continue
        out.predictions.append({"benchmark": benchmark,
                                "path": path.relative_to(run_dir).as_posix(),
                                "items": items, "sha256": sha256})
    return out


def _names(folder: Path, out: RunFiles) -> list[str]:
    """The entries of ``folder``, sorted; none when it does not exist, and a problem said when
    it cannot be listed (a folder at mode 000 would otherwise look empty)."""
    try:
        with os.scandir(folder) as entries:
            return sorted(entry.name for entry in entries)
    except FileNotFoundError:
        return []
    except OSError as exc:
        out.problems.append((folder, _reason(exc)))
        return []


def _replicate_rows(path: Path, limit: int, out: RunFiles) -> list[dict]:
    """A replicates file's draws as rows; an unreadable file is left out (the scores keep
    their own intervals; only the pooled ones miss this run) and named."""
    try:
        drawn = from_bytes(read_regular(path, limit))
    except (HarnessError, OSError, ValueError) as exc:
        log.warning("%s: bootstrap draws not read (%s)", path, exc)
        out.problems.append((path, f"bootstrap draws not read: {_reason(exc)}"))
        return []
    return [{"benchmark": drawn.benchmark, "metric": metric, "subset": subset,
             "units": drawn.units, "resamples": drawn.settings.resamples,
             "seed": drawn.settings.seed, "draws": values.astype("<f4").tobytes()}
            for (metric, subset), values in sorted(drawn.values.items())]


def _reason(exc: Exception) -> str:
    if isinstance(exc, HarnessError):
        return str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return f"{type(exc).__name__}: {exc.strerror}"
    return f"{type(exc).__name__}: {exc}"


def _prediction_key(row: dict) -> tuple:
    return row["benchmark"], row["path"], row["items"], row["sha256"]


def _replicate_key(row: dict) -> tuple:
    return (row["benchmark"], row["metric"], row["subset"], row["units"], row["resamples"],
            row["seed"], bytes(row["draws"]))
