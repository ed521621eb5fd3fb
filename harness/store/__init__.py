"""The SQL store: an index of the result records that runs leave in their folders, plus the
published reference scores kept beside them."""

from __future__ import annotations

from harness.store.ingest import (
    IngestReport,
    find_records,
    ingest_outcome,
    ingest_paths,
    ingest_record,
    ingest_records,
    ingest_root,
)
from harness.store.scan import RecordScan, scan_records
from harness.store.store import DB_URL_ENV, DEFAULT_DB_URL, Store, redacted, resolve_db_url

__all__ = [
    "DB_URL_ENV",
    "DEFAULT_DB_URL",
    "IngestReport",
    "RecordScan",
    "Store",
    "find_records",
    "ingest_outcome",
    "ingest_paths",
    "ingest_record",
    "ingest_records",
    "ingest_root",
    "redacted",
    "resolve_db_url",
    "scan_records",
]
