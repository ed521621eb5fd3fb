"""Helpers for tests that put special files (FIFOs, devices, mode-000 folders) where run files
belong: a call that might block is run in a thread and must finish within a bound, and a test
of an unreadable folder asserts what the user it runs as should see."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

BOUND_S = 20.0


def finishes(call: Callable[[], Any], fifos: tuple[Path, ...] = (), bound: float = BOUND_S
             ) -> Any:
    """``call()``'s result, asserting that it returned within ``bound`` seconds. A call left
    blocked on one of ``fifos`` is released (a writer opens it) so no thread outlives the
    test."""
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            out["value"] = call()
        except BaseException as exc:  # re-raised in the test's thread
            out["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(bound)
    if thread.is_alive():
        for fifo in fifos:
            with contextlib.suppress(OSError):  # nobody was reading it after all
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(5)
        raise AssertionError(f"still running after {bound} s: blocked on a special file")
    if "error" in out:
        raise out["error"]
    return out["value"]


def reads_anyway(folder: Path) -> bool:
    """Whether this user reads ``folder`` though its mode is 000 (root does, through its
    capabilities): then it is a folder like any other and must be ingested, not skipped."""
    return os.access(folder, os.R_OK | os.X_OK)
