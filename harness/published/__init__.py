"""Published reference results (Cambrian-1's Figure 4, Tables 2 and 5) shipped as package data,
the reader for tables in that CSV format, and the link from a paper's names to registry ids."""

from __future__ import annotations

from harness.published.names import ENCODER_IDS, encoder_id_for
from harness.published.reader import (
    BUILTIN,
    PublishedRow,
    builtin_path,
    read_builtin,
    read_published,
)

__all__ = [
    "BUILTIN",
    "ENCODER_IDS",
    "PublishedRow",
    "builtin_path",
    "encoder_id_for",
    "read_builtin",
    "read_published",
]
