"""``harness triage``: every proxy on every encoder named, each result a record of its own
(``<root>/triage/<key>/record.json``, recipe ``triage``, scores of kind ``proxy``) ingested into
the store like a run, so it carries the same provenance: encoder and weights, code version,
host, settings, and for alignment the runs whose connectors it used.

One record per encoder and proxy: a proxy that fails (a shape it cannot take, memory) is a
failed record with the reason, and the others go on. A proxy already done with the same
settings is reused, not computed again.
"""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import torch

import harness
from harness.combination import is_combination
from harness.config import stable_hash
from harness.encoder import ENCODERS, missing_requirements
from harness.errors import HarnessError
from harness.loaders import build_fixed_encoder
from harness.record import ResultRecord, Score, read_record, write_record
from harness.store import Store
from harness.store.ingest import ingest_record
from harness.sweep.run_record import single_encoder_info, with_params
from harness.triage import alignment as ac
from harness.triage.data import EncodedData, TriageData, TriageSettings
from harness.triage.proxies import PROXIES
from harness.triage.stored import RECIPE

TRIAGE_DIR = "triage"
PROXY_NAMES: tuple[str, ...] = (*PROXIES, ac.NAME)


@dataclass(frozen=True)
class TriageRequest:
    encoder_ids: Sequence[str]
    root: Path
    tiny: bool = False
    proxies: Sequence[str] = PROXY_NAMES
    settings: TriageSettings = TriageSettings()
    reference: str = ac.DEFAULT_REFERENCE
    """The encoder whose connector output the alignment proxy compares with."""
    device: str = "cpu"
    """Where the encoders run (``cuda`` on a GPU machine); the proxies' own fits are small."""


@dataclass
class Outcome:
    """What became of one proxy on one encoder."""

    encoder_id: str
    proxy: str
    status: str
    """``done``, ``reused`` (done earlier with the same settings), ``failed`` or ``skipped``."""
    scores: tuple[Score, ...] = ()
    seconds: float = 0.0
    reason: str = ""
    run_key: str = ""

    @property
    def overall(self) -> Score | None:
        return next((s for s in self.scores if s.subset == "overall"), None)


def resolve_device(name: str) -> str:
    """``auto`` -> ``cuda`` where there is a GPU, else ``cpu``; a device that is not here is
    refused before anything runs."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise HarnessError(f"bad device {name!r}; valid: auto, cpu, cuda, cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise HarnessError(f"bad device {name!r}: no CUDA device here; valid: auto, cpu")
    if device.type not in ("cpu", "cuda"):
        raise HarnessError(f"bad device {name!r}; valid: auto, cpu, cuda, cuda:N")
    return name


def check_request(request: TriageRequest) -> None:
    """Every name known and every encoder buildable here, before anything is computed."""
    ENCODERS.discover()
    if not request.encoder_ids:
        raise HarnessError("no encoder given; use --encoders all or a comma-separated list")
    for name in request.encoder_ids:
        if is_combination(name):
            raise HarnessError(f"triage scores one encoder at a time; {name!r} is a combination"
                               " (triage its members)")
        spec = ENCODERS.get(name)  # an unknown id raises with the valid choices
        missing = missing_requirements(spec)
        if missing:
            raise HarnessError(f"encoder {name!r} needs {', '.join(missing)}, which is not"
                               " installed")
    for name in request.proxies:
        if name not in PROXY_NAMES:
            raise HarnessError(f"unknown proxy {name!r}; valid: {', '.join(PROXY_NAMES)}")
    if ac.NAME in request.proxies:
        ENCODERS.get(request.reference)


def _config(request: TriageRequest, encoder_id: str, proxy: str,
            extra: dict[str, Any] | None = None) -> dict[str, Any]:
    version = PROXIES[proxy].version if proxy in PROXIES else "1"
    return {"triage": {"proxy": proxy, "version": version,
                       "settings": dataclasses.asdict(request.settings), **(extra or {})},
            "encoder": ENCODERS.get(encoder_id).fingerprint(tiny=request.tiny)}


def _existing(folder: Path, key: str) -> ResultRecord | None:
    try:
        record = read_record(folder)
    except (OSError, ValueError, HarnessError):
        return None
    return record if record.run_key == key and record.status == "done" else None


class _Writer:
    """Writes one proxy's record and ingests it."""

    def __init__(self, request: TriageRequest, store: Store, encoder_id: str) -> None:
        self.request, self.store, self.encoder_id = request, store, encoder_id
        self.info = single_encoder_info(encoder_id, request.tiny)

    def write(self, config: dict[str, Any], proxy: str, started: float, *,
              scores: Sequence[Score] = (), error: str | None = None,
              llm: str = "") -> Outcome:
        key = stable_hash(config)
        seconds = time.monotonic() - started
        now = datetime.now(UTC)
        record = ResultRecord(
            run_key=key, status="failed" if error else "done", smoke=self.request.tiny,
            encoder=self.info, recipe=RECIPE, llm=llm, connector="",
            seed=self.request.settings.seed, preset=RECIPE, config=config,
            scores=tuple(scores), train={"seconds": round(seconds, 2)},
            started_at=(now - timedelta(seconds=seconds)).isoformat(),
            finished_at=now.isoformat(), wall_seconds=round(seconds, 2),
            host=socket.gethostname(), job_id="", code_version=harness.__version__,
            error=error)
        folder = self.request.root / TRIAGE_DIR / key
        write_record(folder, record)
        ingest_record(self.store, record, folder)
        return Outcome(self.encoder_id, proxy, record.status, tuple(scores), seconds,
                       error or "", key)


def triage(request: TriageRequest, store: Store,
           on_outcome: Callable[[Outcome], None] = lambda o: None) -> list[Outcome]:
    """Run every requested proxy on every encoder; returns (and reports) each outcome."""
    check_request(request)
    data = TriageData.draw(request.settings)
    outcomes: list[Outcome] = []

    def report(outcome: Outcome) -> None:
        outcomes.append(outcome)
        on_outcome(outcome)

    for encoder_id in request.encoder_ids:
        for outcome in _triage_encoder(request, store, data, encoder_id):
            report(outcome)
    return outcomes


def _reused(request: TriageRequest, store: Store, encoder_id: str, proxy: str,
            config: dict[str, Any]) -> Outcome | None:
    key = stable_hash(config)
    folder = request.root / TRIAGE_DIR / key
    record = _existing(folder, key)
    if record is None:
        return None
    ingest_record(store, record, folder)  # a store that missed it (another --db) gets it now
    return Outcome(encoder_id, proxy, "reused", record.scores, record.wall_seconds, "", key)


def _triage_encoder(request: TriageRequest, store: Store, data: TriageData,
                    encoder_id: str) -> Iterator[Outcome]:
    """Each proxy's outcome on one encoder, as it lands."""
    writer = _Writer(request, store, encoder_id)
    pending = []
    for proxy in (p for p in request.proxies if p in PROXIES):
        config = _config(request, encoder_id, proxy)
        done = _reused(request, store, encoder_id, proxy, config)
        if done:
            yield done
        else:
            pending.append((proxy, config))
    if pending:
        yield from _own_tokens_proxies(request, data, writer, pending)
    if ac.NAME in request.proxies:
        yield _alignment(request, store, data, writer)


def _own_tokens_proxies(request: TriageRequest, data: TriageData, writer: _Writer,
                        pending: list[tuple[str, dict[str, Any]]]) -> Iterator[Outcome]:
    """The proxies read off the encoder's own tokens: one build, its tokens shared."""
    started = time.monotonic()
    try:
        # The very network a sweep trains on: random weights are drawn as its runs draw them.
        encoder = build_fixed_encoder(ENCODERS.get(writer.encoder_id), tiny=request.tiny)
    except Exception as exc:  # noqa: BLE001 - recorded as each proxy's failure
        reason = f"the encoder could not be built: {_one_line(exc)}"
        for proxy, config in pending:
            yield writer.write(config, proxy, started, error=reason)
        return
    writer.info = with_params(writer.info, [encoder.num_parameters()])
    encoded = EncodedData.of(encoder, data, request.device)
    for proxy, config in pending:
        started = time.monotonic()
        try:
            scores = PROXIES[proxy].compute(encoded)
        except Exception as exc:  # noqa: BLE001 - one proxy's failure spares the others
            yield writer.write(config, proxy, started, error=_one_line(exc))
        else:
            yield writer.write(config, proxy, started, scores=scores)


def _alignment(request: TriageRequest, store: Store, data: TriageData,
               writer: _Writer) -> Outcome:
    encoder_id = writer.encoder_id
    try:
        connectors, run_dirs = ac.find_connectors(store, encoder_id, request.reference,
                                                  smoke=request.tiny)
    except ac.NoProjector as why:
        return Outcome(encoder_id, ac.NAME, "skipped", reason=str(why))
    config = _config(request, encoder_id, ac.NAME,
                     {"reference": request.reference, **connectors.as_config()})
    done = _reused(request, store, encoder_id, ac.NAME, config)
    if done:
        return done
    started = time.monotonic()
    try:
        scores = ac.alignment(data, connectors, run_dirs, request.device)
    except Exception as exc:  # noqa: BLE001 - recorded; the other proxies stand
        return writer.write(config, ac.NAME, started, error=_one_line(exc), llm=connectors.llm)
    return writer.write(config, ac.NAME, started, scores=scores, llm=connectors.llm)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")
