"""Typed dependencies shared by the routers; tests swap them with ``dependency_overrides``."""

from __future__ import annotations

import dataclasses
import hmac
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from harness.store import Store


def get_store(request: Request) -> Store:
    return request.app.state.store


StoreDep = Annotated[Store, Depends(get_store)]

_bearer = HTTPBearer(auto_error=False, description="The token `harness serve` read from "
                     "`--token-file` or $HARNESS_API_TOKEN.")


def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Write routes: closed unless the server has a token, then open to its bearers only."""
    expected = request.app.state.settings.token
    if not expected:
        raise HTTPException(403, "write routes are closed: start the server with --token-file "
                                 "(or $HARNESS_API_TOKEN) to accept results")
    given = credentials.credentials if credentials is not None else ""
    # Constant-time, so response timing says nothing about how much of a guess was right.
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(401, "missing or wrong bearer token",
                            headers={"WWW-Authenticate": "Bearer"})


WriteAccess = Depends(require_token)

# Query values are names stored in the database: bounded, and free of NUL (which PostgreSQL
# text cannot hold), so a malformed value is a 422 rather than a driver error.
NAME_PATTERN = r"^[^\x00]*$"
# A posted run key must come back through ``/runs/{run_key}``: no "/" (a path separator), no
# "." or ".." (which clients collapse), nothing a URL must escape. Reading stays as lenient as
# NAME_PATTERN, for keys a record file brought in.
RUN_KEY_PATTERN = r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}"
RUN_KEY_RULE = ("1 to 64 of the letters A-Z and a-z, the digits 0-9, '.', '_' and '-', not "
                "starting with '.'")
Name = Annotated[str | None, Query(max_length=200, pattern=NAME_PATTERN)]
MAX_LIMIT = 1000
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1, description="Items to skip.")]


@dataclasses.dataclass(frozen=True)
class SettingFilters:
    """Which settings: the query parameters every filtered read shares (a FastAPI
    dependency: each field is a query parameter)."""

    encoder: Name = None
    recipe: Name = None
    llm: Name = None
    group: Name = None
    category: Name = None
    include_smoke: bool = True

    def as_kwargs(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class ScoreFilters(SettingFilters):
    """Which scores: the setting filters and which numbers of them (``/scores``,
    ``/export/scores``)."""

    benchmark: Name = None
    metric: Name = None
    subset: Name = None


ScoreFiltersDep = Annotated[ScoreFilters, Depends()]
