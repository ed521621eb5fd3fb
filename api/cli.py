"""``harness serve``: the dashboard and JSON API over the store, mounted through an entry point."""

from __future__ import annotations

from typing import Annotated

import typer

from api.app import TOKEN_ENV, Settings, create_app
from harness.store.store import DB_URL_ENV, DEFAULT_DB_URL, resolve_db_url


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    db: Annotated[
        str | None,
        typer.Option(
            help=f"SQLAlchemy database URL (default: ${DB_URL_ENV}, else {DEFAULT_DB_URL})."
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(help=f"Open POST /api/v1/results to this bearer token (default: "
                          f"${TOKEN_ENV}; without one, write routes stay closed)."),
    ] = None,
) -> None:
    """Serve the leaderboard dashboard and the JSON API (OpenAPI docs at /docs)."""
    import uvicorn  # only this command needs the server

    settings = Settings.with_env_token(resolve_db_url(db), token, freeze_after_warm_up=True)
    app = create_app(settings)
    typer.echo(f"Encoder Harness dashboard at http://{host}:{port}/ (database {settings.db_url})")
    typer.echo("write routes: " + ("open to the bearer token" if settings.token else
                                   f"closed (no --token or ${TOKEN_ENV})"))
    uvicorn.run(app, host=host, port=port)
