"""The ``harness`` entry point: the core commands, plus any command a package contributes
through the ``harness.commands`` entry-point group (``serve`` comes from ``api/`` that way)."""

from __future__ import annotations

import logging
import sys
import types

import typer
from sqlalchemy.exc import SQLAlchemyError

from harness.cli import (
    benchmarks,
    cambrian,
    compare,
    data,
    db,
    encoders,
    eval,
    ingest,
    llms,
    published,
    recipes,
    rescore,
    status,
    sweep,
    triage,
)
from harness.cli.common import command_group
from harness.errors import HarnessError
from harness.registry import Registry
from harness.store.store import database_error

app = command_group(
    "Train the same MLLM on each image encoder and compare them (Cambrian-1's study).",
    name="harness")
app.command("sweep")(sweep.sweep)
app.command("ingest")(ingest.ingest)
app.command("status")(status.status)
app.command("cancel")(status.cancel)
app.command("eval")(eval.eval_command)
app.command("rescore")(rescore.rescore)
app.command("compare")(compare.compare_command)
app.command("reliance")(compare.reliance_command)
app.command("triage")(triage.triage_command)
app.add_typer(encoders.app, name="encoders")
app.add_typer(llms.app, name="llms")
app.add_typer(recipes.app, name="recipes")
app.add_typer(benchmarks.app, name="benchmarks")
app.add_typer(data.app, name="data")
app.add_typer(db.app, name="db")
app.command("import-published")(published.import_published_command)
app.command("import-lmms-eval")(published.import_lmms_eval_command)
app.command("import-cambrian-connector")(cambrian.import_cambrian_connector)

COMMANDS: Registry[types.FunctionType] = Registry(
    "command", "harness.commands", name_of=lambda f: f.__name__, item_type=types.FunctionType
)


def _mount_plugin_commands() -> None:
    # A broken command plugin is reported (once) by the registry as it is skipped.
    for command in COMMANDS.items():
        app.command(command.__name__)(command)


def main() -> None:
    """Console script: a user-facing error is one line on stderr and exit status 2."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        _mount_plugin_commands()
        app()
    except HarnessError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(2)
    except SQLAlchemyError as exc:
        # A database that fails in the middle of a command (made read-only, gone away): one
        # line like any user-facing error; the commands name the URL where they know it.
        typer.secho(f"error: {database_error(None, exc)}", fg=typer.colors.RED, err=True)
        sys.exit(2)
