"""``POST /api/v1/results``: a job or a colleague posts a result record (the ``record.json``
format); behind a bearer token, and ingested exactly like a record file."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import TypeAdapter
from sqlalchemy.exc import DataError, IntegrityError

from api.deps import RUN_KEY_PATTERN, RUN_KEY_RULE, StoreDep, WriteAccess
from api.schemas import IngestResult
from harness.errors import HarnessError
from harness.record import ResultRecord
from harness.store import ingest_outcome

router = APIRouter(tags=["results"])

RECORD_SCHEMA = "ResultRecord"
_REF = "#/components/schemas/{model}"
MAX_DEPTH = 32


@router.post(
    "/results",
    dependencies=[WriteAccess],
    status_code=201,
    responses={
        200: {"description": "Already stored (unchanged) or replaced (updated)",
              "model": IngestResult},
        401: {"description": "Missing or wrong bearer token"},
        403: {"description": "Write routes are closed: the server has no token"},
        413: {"description": "Body over the server's limit (`harness serve --max-body-bytes`)"},
        415: {"description": "Body not sent as application/json"},
        422: {"description": "Not a valid result record; `detail` says what is wrong"},
    },
    # The body is read by the route, after the token check, so it is documented by hand.
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"$ref": _REF.format(model=RECORD_SCHEMA)}}}}},
)
async def post_result(store: StoreDep, request: Request, response: Response) -> IngestResult:
    """Store one result record; posting the same record again changes nothing."""
    # No body parameter: FastAPI would read and parse the body before any dependency ran, so
    # a stranger could make the server parse a large body before being told no. Here the
    # token has been checked, and the body streams in through the size limit (api/guards.py).
    content_type = request.headers.get("content-type", "application/json")
    if not re.match(r"application/([\w.+-]+\+)?json\b", content_type, re.IGNORECASE):
        raise HTTPException(415, f"body sent as {content_type[:80]!r}; send application/json")
    record = parse_record(await request.body())
    try:
        outcome = await run_in_threadpool(ingest_outcome, store, record)
    except HarnessError as exc:
        raise HTTPException(422, str(exc)) from None
    except (DataError, IntegrityError, OverflowError) as exc:
        raise HTTPException(422, f"record rejected by the database: {exc.__class__.__name__}: "
                                 f"{str(exc).splitlines()[0]}") from None
    if outcome != "added":
        response.status_code = 200
    return IngestResult(run_key=record.run_key, outcome=outcome)


def parse_record(raw: bytes) -> ResultRecord:
    """The body as a record, read as strictly as a record file (unknown keys, exact types),
    or a 422 naming the first thing wrong."""
    try:
        data = json.loads(raw)
    except ValueError as exc:  # not JSON, or not UTF-8
        raise HTTPException(422, f"body is not JSON: {exc}") from None
    except RecursionError:
        raise HTTPException(422, "body is not JSON a record could be: nested too deeply") from None
    if not isinstance(data, dict):
        raise HTTPException(422, f"body is a JSON {type(data).__name__}; a record is an object")
    problem = _unstorable(data)
    if problem is not None:
        raise HTTPException(422, problem)
    try:
        record = ResultRecord.from_dict(data, where="body")
    except HarnessError as exc:
        raise HTTPException(422, str(exc)) from None
    if not re.fullmatch(RUN_KEY_PATTERN, record.run_key):
        raise HTTPException(422, f"body: run_key {record.run_key[:80]!r} is not a key a URL can "
                                 f"read back: {RUN_KEY_RULE}")
    return record


def _unstorable(data: Any) -> str | None:
    """What in ``data`` (parsed JSON) the store cannot take, if anything: nesting deeper than
    MAX_DEPTH (the store's serialisers recurse, and would fail with a 500), or a string or key
    holding a lone surrogate (JSON may escape half a UTF-16 pair, ``\\ud800``; no database
    stores that as text). A loop, not recursion: the nesting is the client's to choose."""
    stack: list[tuple[str, Any, int]] = [("body", data, 0)]
    while stack:
        where, value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"{_shown(where)} nests deeper than {MAX_DEPTH} levels; a record needs fewer"
        if isinstance(value, dict):
            stack.extend((f"{where}.{key}", key, depth) for key in value)
            stack.extend((f"{where}.{key}", item, depth + 1) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((f"{where}[{i}]", item, depth + 1) for i, item in enumerate(value))
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return (f"{_shown(where)} holds a lone surrogate (an unpaired \\ud800-\\udfff "
                        "escape), which is not Unicode text")
    return None


def _shown(where: str) -> str:
    return where[:200].encode("utf-8", "backslashreplace").decode()


def document_body(openapi: dict[str, Any]) -> dict[str, Any]:
    """Add the record's JSON schema to the OpenAPI components the route's body refers to."""
    # "-Input", as FastAPI names a model's request side: the responses' Score is another
    # model with the same name.
    schema = TypeAdapter(ResultRecord).json_schema(ref_template=_REF.format(model="{model}-Input"))
    schema["properties"]["run_key"]["pattern"] = f"^{RUN_KEY_PATTERN}$"
    components = openapi.setdefault("components", {}).setdefault("schemas", {})
    for name, part in schema.pop("$defs", {}).items():
        components.setdefault(f"{name}-Input", part)
    components.setdefault(RECORD_SCHEMA, schema)
    return openapi
