"""What ``harness sweep`` shows while it runs: an overall bar with runs done of planned and the
time left, a bar per run in flight (its stage, step and loss), and a line per finished run
that carries the same count and estimate, so a log (where no bar is drawn) reads the same."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from harness.record import ResultRecord
from harness.sweep.driver import Listener, ProgressWatcher, SweepReport
from harness.sweep.plan import Run


@dataclass
class SweepClock:
    """Runs finished of planned, and the time left estimated from the runs so far: the time
    per finished run since the start (parallel jobs included) times the runs still to
    finish. No estimate before the first run ends."""

    total: int
    done: int = 0
    started: float = field(default_factory=time.monotonic)

    def finish_one(self) -> None:
        self.done += 1

    def seconds_left(self, now: float | None = None) -> float | None:
        if self.done == 0:
            return None
        elapsed = (time.monotonic() if now is None else now) - self.started
        return elapsed / self.done * (self.total - self.done)

    def time_left(self, now: float | None = None) -> str:
        """``~5 min left``; empty before the first run ends and once the last has."""
        left = self.seconds_left(now)
        return f"~{duration(left)} left" if left is not None and self.done < self.total else ""

    def describe(self, now: float | None = None) -> str:
        """``12/38 runs, ~5 min left``."""
        return ", ".join(p for p in (f"{self.done}/{self.total} runs", self.time_left(now)) if p)


def duration(seconds: float) -> str:
    """A human duration, as rounded as an estimate deserves: ``40 s``, ``6 min``, ``2.5 h``."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def run_with_progress(todo: list[Run], console: Console,
                      execute: Callable[[Listener], SweepReport],
                      in_flight: Iterable[Run] = ()) -> SweepReport:
    """Run the sweep under the progress display: ``execute`` runs it, telling the listener it
    is given when each run finishes."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[info]}"), TimeElapsedColumn())
    watched = todo + list(in_flight)
    clock = SweepClock(total=len(watched))
    lock = threading.Lock()
    with Progress(*columns, console=console) as progress:
        overall = progress.add_task("[bold]sweep", total=len(watched), info="")
        tasks: dict[str, int] = {}

        def on_status(run: Run, status: dict) -> None:
            # A run gets its own bar once its job starts it (a job may carry several runs).
            loss = f" loss {status['loss']:.3f}" if status.get("loss") is not None else ""
            with lock:
                if run.key not in watcher.active:
                    return
                if run.key not in tasks:
                    tasks[run.key] = progress.add_task(f"  {run.label}", total=None, info="")
                progress.update(tasks[run.key], completed=status["step"],
                                total=status["total"] or None,
                                info=f"{status['stage']}{loss}")
                # The estimate is refreshed as time passes, not only when a run ends.
                progress.update(overall, info=clock.time_left())

        watcher = ProgressWatcher(on_status)
        with watcher:
            for run in watched:
                watcher.active[run.key] = run

            def listener(run: Run, event: str, record: ResultRecord | None) -> None:
                if event != "finished":
                    return
                with lock:
                    watcher.active.pop(run.key, None)
                    task = tasks.pop(run.key, None)
                    if task is not None:
                        progress.remove_task(task)
                    clock.finish_one()
                    progress.update(overall, advance=1, info=clock.time_left())
                progress.console.print(escape(f"[{clock.describe()}]") + " "
                                       + outcome_line(run, record), highlight=False)

            report = execute(listener)
    console.print(f"Sweep finished in {duration(report.seconds)}: {len(report.done)} done,"
                  f" {len(report.failed)} failed.")
    return report


def outcome_line(run: Run, record: ResultRecord | None) -> str:
    if record is None or record.status != "done":
        error = record.error if record else "no record"
        return f"[red]x[/] {escape(run.label)} failed: {escape(error or '')}"
    overall = [s for s in record.scores if s.subset == "overall"]
    several = benchmarks_with_several_metrics((s.benchmark, s.metric) for s in overall)
    parts = [f"{s.benchmark}" + (f" {s.metric}" if s.benchmark in several else "")
             + f" {s.value:.1f}" + (f" (chance {s.chance:.1f})" if s.chance else "")
             for s in overall]
    return (f"[green]ok[/] {escape(run.label)}: {escape(', '.join(parts))} in"
            f" {record.wall_seconds:.0f} s")


def benchmarks_with_several_metrics(pairs: Iterable[tuple[str, str]]) -> set[str]:
    """Benchmarks that appear with more than one metric in ``(benchmark, metric)`` pairs."""
    seen: dict[str, set[str]] = {}
    for benchmark, metric in pairs:
        seen.setdefault(benchmark, set()).add(metric)
    return {b for b, m in seen.items() if len(m) > 1}

