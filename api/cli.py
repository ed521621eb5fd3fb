"""``harness serve``: the dashboard and JSON API over the store, mounted through an entry point."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from api.guards import DEFAULT_MAX_BODY_BYTES, WILDCARD_BINDS, host_allow_list
from api.settings import HOSTS_ENV, MAX_BODY_ENV, TOKEN_ENV, Settings
from harness.errors import HarnessError
from harness.store.store import DB_URL_ENV, DEFAULT_DB_URL, redacted, resolve_db_url


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    db: Annotated[
        str | None,
        typer.Option(
            help=f"SQLAlchemy database URL (default: ${DB_URL_ENV}, else {DEFAULT_DB_URL})."
        ),
    ] = None,
    token_file: Annotated[
        Path | None,
        typer.Option(help=f"Open POST /api/v1/results to the bearer token in this file "
                          f"(default: ${TOKEN_ENV}; without one, write routes stay closed). "
                          "Never the token itself on the command line: any local user can "
                          "read a process's arguments."),
    ] = None,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(envvar=HOSTS_ENV,
                     help="A Host name to answer besides 127.0.0.1, localhost, [::1] and --host "
                          "(repeatable; '*.example.org' for a domain): the name a reverse "
                          "proxy or your colleagues use. Others get 400 (DNS rebinding)."),
    ] = None,
    max_body_bytes: Annotated[
        int,
        typer.Option(envvar=MAX_BODY_ENV, help="Refuse a request body over this many bytes "
                                               "with 413, before reading it."),
    ] = DEFAULT_MAX_BODY_BYTES,
) -> None:
    """Serve the leaderboard dashboard and the JSON API (OpenAPI docs at /docs)."""
    token = read_token_file(token_file) if token_file is not None else None
    # The bound interface is a name clients use; a wildcard bind names none (see --allowed-host).
    hosts = [*_split(allowed_host or ()), *([] if host in WILDCARD_BINDS else [host])]
    settings = Settings.with_env_token(resolve_db_url(db), token, freeze_after_warm_up=True,
                                       allowed_hosts=tuple(hosts),
                                       max_body_bytes=max_body_bytes)
    # deferred: the web stack (the routes, the dashboard, plotly) loads here, not when the CLI
    # starts: every other harness command would pay for it (about 3 s).
    from api.app import create_app

    app = create_app(settings)
    typer.echo(f"Encoder Harness dashboard at http://{host}:{port}/ "
               f"(database {redacted(settings.db_url)})")
    typer.echo("answers Host: " + ", ".join(host_allow_list(settings.allowed_hosts)) +
               " (more with --allowed-host)")
    typer.echo("write routes: " + ("open to the bearer token" if settings.token else
                                   f"closed (no --token-file or ${TOKEN_ENV})"))
    uvicorn.run(app, host=host, port=port)


def read_token_file(path: Path) -> str:
    """The token in ``path``, surrounding whitespace stripped; a missing, unreadable or empty
    file is a one-line error, and a file other users can read is a warning."""
    try:
        token = path.read_text(encoding="utf-8").strip()
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise HarnessError(f"--token-file {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise HarnessError(f"--token-file {path}: cannot read it ({reason})") from None
    if not token:
        raise HarnessError(f"--token-file {path} is empty; write a token into it, e.g. "
                           f"openssl rand -hex 16 > {path}")
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        typer.echo(f"warning: --token-file {path} is readable by other users "
                   f"(chmod 600 {path})", err=True)
    return token


def _split(values: list[str] | tuple[str, ...]) -> list[str]:
    # Repeated flags, or one $HARNESS_ALLOWED_HOSTS holding several names (commas or spaces).
    return [name for value in values for name in value.replace(",", " ").split()]
