"""Where a run's time goes: its wall time split into phases (importing the libraries, building
the model, the tokenizer, the frozen encoder's features, training, evaluation, saving), kept in
the record's ``train["phases"]`` for every run so a slow sweep can be read, not guessed.

A ``PhaseClock`` charges time to the innermost phase open (the tokenizer, built inside the
model's build, is not counted twice). Code deep in the library marks its phase with
``timed(name)``; it costs nothing where no clock is running.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

PHASES = ("import", "build", "tokenizer", "features", "train", "eval", "save")
"""In the order a run meets them; ``other`` is the rest of the wall time."""
OTHER = "other"


class PhaseClock:
    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self._open: list[str] = []
        self._mark = time.perf_counter()

    def _charge(self) -> None:
        now = time.perf_counter()
        if self._open:
            self.seconds[self._open[-1]] += now - self._mark
        self._mark = now

    def add(self, name: str, seconds: float) -> None:
        """Time spent before the clock started (the process's imports)."""
        self.seconds[name] += seconds

    @contextmanager
    def measure(self, name: str) -> Iterator[None]:
        self._charge()
        self._open.append(name)
        try:
            yield
        finally:
            self._charge()
            self._open.pop()

    def breakdown(self, wall_seconds: float) -> dict[str, float]:
        """Seconds per phase in ``PHASES`` order, and ``other``: what the phases leave of
        ``wall_seconds`` (the imports are not part of a run's wall time, so not subtracted)."""
        out = {name: round(self.seconds[name], 3) for name in PHASES if name in self.seconds}
        inside = sum(v for k, v in self.seconds.items() if k != "import")
        out[OTHER] = round(max(wall_seconds - inside, 0.0), 3)
        return out


_clock: ContextVar[PhaseClock | None] = ContextVar("harness_phase_clock", default=None)


@contextmanager
def running(clock: PhaseClock) -> Iterator[PhaseClock]:
    """Make ``clock`` the one ``timed`` charges, for the duration."""
    token = _clock.set(clock)
    try:
        yield clock
    finally:
        _clock.reset(token)


@contextmanager
def timed(name: str) -> Iterator[None]:
    clock = _clock.get()
    if clock is None:
        yield
        return
    with clock.measure(name):
        yield


def process_age() -> float | None:
    """Seconds since this process started (Linux's /proc), or None where that is unknown."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        # Field 22 of stat (the 20th after the command name) is the start, in clock ticks.
        return max(uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK"), 0.0)
    except (OSError, ValueError, IndexError):
        return None
