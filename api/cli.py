"""``harness serve``: the dashboard and JSON API over the store, mounted through an entry point."""

from __future__ import annotations

from typing import Annotated

import typer

from api.app import Settings, create_app
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
) -> None:
    """Serve the leaderboard dashboard and the JSON API (OpenAPI docs at /docs)."""
    import uvicorn  # only this command needs the server

    settings = Settings(db_url=resolve_db_url(db))
    app = create_app(settings)
    typer.echo(f"Encoder Harness dashboard at http://{host}:{port}/ (database {settings.db_url})")
    uvicorn.run(app, host=host, port=port)
