"""What ``harness serve`` (and a test) configures an app with: the database, the write token,
the Host names answered and the body limit. Kept apart from ``api.app`` so that the CLI reads
the options without importing the web stack."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from api.guards import DEFAULT_MAX_BODY_BYTES, MAX_BODY_OPTION
from harness.errors import HarnessError

TOKEN_ENV = "HARNESS_API_TOKEN"
HOSTS_ENV = "HARNESS_ALLOWED_HOSTS"
MAX_BODY_ENV = "HARNESS_MAX_BODY_BYTES"


@dataclass(frozen=True)
class Settings:
    db_url: str
    token: str | None = None
    """Opens the write routes (``POST /api/v1/results``) to bearers of this token; without one
    they stay closed. The read routes are always open."""
    freeze_after_warm_up: bool = False
    """Move every object alive after the start-up warm-up out of the garbage collector's
    sight (``gc.freeze``), for a long-lived server: the store's rollup holds a few hundred
    thousand objects, and a full collection walking them took 140 ms, in the middle of
    whichever page view set it off. Off for apps made in tests."""
    allowed_hosts: tuple[str, ...] = ()
    """Host names served besides 127.0.0.1, localhost and [::1] (``harness serve
    --allowed-host``, ``$HARNESS_ALLOWED_HOSTS``): the name a reverse proxy forwards, say. Any
    other Host header gets 400, so a web page cannot reach this server by DNS rebinding."""
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    """The largest request body accepted (a result record is a few kB); a larger one gets 413
    before it is read whole."""

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1:
            raise HarnessError(f"{MAX_BODY_OPTION} {self.max_body_bytes}: give at least 1")

    @classmethod
    def with_env_token(cls, db_url: str, token: str | None = None, **options: Any) -> Settings:
        return cls(db_url=db_url, token=token or os.environ.get(TOKEN_ENV) or None, **options)
