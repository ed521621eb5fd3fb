"""``POST /api/v1/results``: a job or a colleague posts a result record (the ``record.json``
format); behind a bearer token, and ingested exactly like a record file."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import DataError, IntegrityError

from api.deps import StoreDep, WriteAccess
from api.schemas import IngestResult
from harness.errors import HarnessError
from harness.record import ResultRecord
from harness.store import ingest_outcome

router = APIRouter(tags=["results"])


@router.post(
    "/results",
    dependencies=[WriteAccess],
    status_code=201,
    responses={
        200: {"description": "Already stored (unchanged) or replaced (updated)",
              "model": IngestResult},
        401: {"description": "Missing or wrong bearer token"},
        403: {"description": "Write routes are closed: the server has no token"},
    },
)
async def post_result(store: StoreDep, record: ResultRecord, request: Request,
                      response: Response) -> IngestResult:
    """Store one result record; posting the same record again changes nothing."""
    del record  # parsed for the schema and the first checks; the raw body is read strictly
    try:
        # The same strict reading as a record file (unknown keys, exact types), whatever the
        # body parser tolerated.
        record = ResultRecord.from_dict(await request.json(), where="body")
        outcome = await run_in_threadpool(ingest_outcome, store, record)
    except HarnessError as exc:
        raise HTTPException(422, str(exc)) from None
    except (DataError, IntegrityError, OverflowError) as exc:
        raise HTTPException(422, f"record rejected by the database: {exc.__class__.__name__}: "
                                 f"{str(exc).splitlines()[0]}") from None
    if outcome != "added":
        response.status_code = 200
    return IngestResult(run_key=record.run_key, outcome=outcome)
