"""Guards in front of every route: which ``Host`` names the server answers to (DNS rebinding),
and how large a request body may grow before it is refused with 413, unread."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from harness.errors import HarnessError

# What a browser on this machine sends for a server bound to the loopback interface; an IPv6
# literal keeps its brackets in a Host header.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
# Binding to every interface names no host a client would send.
WILDCARD_BINDS = ("0.0.0.0", "::", "")
DEFAULT_MAX_BODY_BYTES = 8 * 2**20
MAX_BODY_OPTION = "--max-body-bytes"


def host_allow_list(extra: Iterable[str]) -> list[str]:
    """The loopback names plus ``extra`` (each a host name, an IP literal or ``*.domain``), in
    the form a Host header carries them; a value that could never match is refused."""
    hosts = list(LOOPBACK_HOSTS)
    for given in extra:
        host = given.strip().lower()
        if host.count(":") >= 2 and not host.startswith("["):
            host = f"[{host}]"  # a bare IPv6 literal, as --host takes it
        if not host or (":" in host and not host.endswith("]")):
            raise HarnessError(f"allowed host {given!r}: give a host name or IP address alone, "
                               "without scheme or port (e.g. dash.example.org, 10.0.0.5)")
        if "*" in host[1:] or (host.startswith("*") and host != "*" and
                               not host.startswith("*.")):
            raise HarnessError(f"allowed host {given!r}: a wildcard must be a whole leading "
                               "label, like '*.example.org' (or '*' for any host)")
        if host not in hosts:
            hosts.append(host)
    return hosts


class BodyTooLarge(HTTPException):
    def __init__(self, max_bytes: int, size: int | None = None) -> None:
        body = "request body" if size is None else f"request body of {size} bytes"
        super().__init__(413, f"{body} is over this server's limit of {max_bytes} bytes "
                              f"(harness serve {MAX_BODY_OPTION})")


class BodyLimit:
    """Refuse a body over ``max_bytes`` before it is read whole: at once when its
    Content-Length says so, else (a chunked body) as soon as the bytes read pass the limit.
    Whatever reads the body (a route, FastAPI's parser) reads it through this count."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            size = int(declared) if declared.isascii() and declared.isdigit() else None
            if size is None or size > self.max_bytes:
                refusal = (BodyTooLarge(self.max_bytes, size) if size is not None else
                           HTTPException(400, f"Content-Length {declared[:40]!r} is not a "
                                              "number of bytes"))
                await JSONResponse({"detail": refusal.detail},
                                   status_code=refusal.status_code)(scope, receive, send)
                return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # An HTTPException: FastAPI's exception handler turns it into the 413.
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, counted, send)
