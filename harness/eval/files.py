"""Reading benchmark files in their official layouts, with one-line errors that name the file
and what was expected (JSON, JSONL, CSV/TSV, parquet), and checks that images are there."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from harness.errors import HarnessError


class LayoutError(HarnessError):
    """A benchmark folder that is not in the layout its loader expects."""


def need(path: Path, expected: str) -> Path:
    """``path`` if it exists, else a one-line error naming it and the expected layout."""
    if not path.exists():
        raise LayoutError(f"{path}: not found; expected {expected}")
    return path


def first_existing(root: Path, candidates: Sequence[str], expected: str) -> Path:
    for name in candidates:
        if (root / name).exists():
            return root / name
    raise LayoutError(f"{root / candidates[0]}: not found; expected {expected}")


def read_json(path: Path, expected: str) -> Any:
    need(path, expected)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LayoutError(f"{path}: not JSON ({exc}); expected {expected}") from None


def read_jsonl(path: Path, expected: str) -> list[dict[str, Any]]:
    need(path, expected)
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise LayoutError(f"{path}:{n}: not JSON ({exc}); expected {expected}") from None
    return rows


def read_table(path: Path, expected: str, delimiter: str = ",") -> list[dict[str, str]]:
    """CSV or TSV rows as dicts (header from the first line)."""
    need(path, expected)
    csv.field_size_limit(1 << 30)  # MMBench's TSV carries base64 images in a cell
    with path.open(newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh, delimiter=delimiter))


def read_parquet(paths: Iterable[Path], expected: str) -> list[dict[str, Any]]:
    """Rows of parquet files (Hugging Face's layout); image cells ``{bytes, path}`` stay dicts."""
    # deferred: pyarrow would add ~0.2 s to every import of the benchmarks (the store and the
    # API read them); only parquet releases need it
    import pyarrow.parquet as pq

    rows: list[dict[str, Any]] = []
    for path in paths:
        try:
            rows += pq.read_table(path).to_pylist()
        except Exception as exc:  # pyarrow raises several types for a bad file
            raise LayoutError(f"{path}: not a parquet file ({exc}); expected {expected}") \
                from None
    return rows


def columns(row: dict[str, Any], required: Iterable[str], where: str, expected: str) -> None:
    missing = [c for c in required if c not in row]
    if missing:
        raise LayoutError(f"{where}: missing field {missing[0]!r}; expected {expected}")


def image_bytes(cell: Any, where: str) -> bytes | str | None:
    """An image cell of a parquet/``datasets`` row: encoded bytes, else its path, else None."""
    if cell is None:
        return None
    if isinstance(cell, bytes):
        return cell
    if isinstance(cell, dict):
        if cell.get("bytes"):
            return cell["bytes"]
        if cell.get("path"):
            return str(cell["path"])
        return None
    if isinstance(cell, str):
        return cell
    raise LayoutError(f"{where}: image is a {type(cell).__name__}, expected bytes or a path")


def check_images(refs: Iterable[tuple[str, str | bytes | None]], root: Path,
                 expected: str) -> None:
    """Every path-referenced image exists; else one error naming the first missing file and
    how many are missing (a half-copied image folder is a layout error, not a score)."""
    missing = [ref for _, ref in refs if isinstance(ref, str) and not (root / ref).is_file()]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise LayoutError(f"{root / missing[0]}: image not found{more}; expected {expected}")


def open_image(ref: str | bytes, root: Path) -> Image.Image:
    """The RGB image a reference names; a one-line error for one that cannot be decoded."""
    where = "embedded image" if isinstance(ref, bytes) else str(root / ref)
    try:
        with Image.open(io.BytesIO(ref) if isinstance(ref, bytes) else root / ref) as img:
            return img.convert("RGB")
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise UnreadableImage(f"{where}: unreadable image ({exc})") from None


class UnreadableImage(HarnessError):
    """An image that exists but does not decode: counted and reported per item."""
