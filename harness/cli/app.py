"""The ``harness`` entry point: the core commands, plus any command a package contributes
through the ``harness.commands`` entry-point group (``serve`` comes from ``api/`` that way).

A core command's module is imported only when that command is looked up (``BUILT_IN``), so
``harness status`` or ``harness compare`` start in about a second instead of paying for
torch and transformers (about 6 s on 2 cores); ``harness --help`` still loads them all."""

from __future__ import annotations

import importlib
import logging
import sys
import types

import typer
import typer.main
from sqlalchemy.exc import SQLAlchemyError
from typer.core import TyperGroup

from harness.cli.common import command_group
from harness.errors import HarnessError
from harness.registry import Registry
from harness.store.store import database_error

log = logging.getLogger(__name__)

BUILT_IN: dict[str, tuple[str, str]] = {
    "sweep": ("sweep", "sweep"),
    "ingest": ("ingest", "ingest"),
    "status": ("status", "status"),
    "cancel": ("status", "cancel"),
    "eval": ("eval", "eval_command"),
    "rescore": ("rescore", "rescore"),
    "compare": ("compare", "compare_command"),
    "reliance": ("compare", "reliance_command"),
    "triage": ("triage", "triage_command"),
    "import-published": ("published", "import_published_command"),
    "import-lmms-eval": ("published", "import_lmms_eval_command"),
    "import-cambrian-connector": ("cambrian", "import_cambrian_connector"),
    "encoders": ("encoders", "app"),
    "llms": ("llms", "app"),
    "recipes": ("recipes", "app"),
    "benchmarks": ("benchmarks", "app"),
    "data": ("data", "app"),
    "db": ("db", "app"),
}
"""Each built-in command: its module under ``harness.cli`` and the function (or Typer group)
in it, in the order ``harness --help`` lists them."""


class LazyCommands(TyperGroup):
    """The ``harness`` group: ``BUILT_IN`` commands are mounted as they are looked up."""

    def list_commands(self, ctx) -> list[str]:
        return [*BUILT_IN, *(n for n in super().list_commands(ctx) if n not in BUILT_IN)]

    def get_command(self, ctx, cmd_name: str):
        if cmd_name in BUILT_IN and cmd_name not in self.commands:
            module, attribute = BUILT_IN[cmd_name]
            target = getattr(importlib.import_module(f"harness.cli.{module}"), attribute)
            self.commands[cmd_name] = _click_command(cmd_name, target)
        return super().get_command(ctx, cmd_name)


def _click_command(name: str, target: typer.Typer | types.FunctionType):
    if isinstance(target, typer.Typer):
        command = typer.main.get_group(target)  # a group even with one command
    else:
        single = command_group("")
        single.command(name)(target)
        command = typer.main.get_command(single)  # one command: that command itself
    command.name = name
    return command


app = command_group(
    "Train the same MLLM on each image encoder and compare them (Cambrian-1's study).",
    name="harness", cls=LazyCommands)


@app.callback()
def _harness() -> None:
    # A callback makes the app a group even before any command is mounted.
    pass


COMMANDS: Registry[types.FunctionType] = Registry(
    "command", "harness.commands", name_of=lambda f: f.__name__, item_type=types.FunctionType
)


def _mount_plugin_commands() -> None:
    # A broken command plugin is reported (once) by the registry as it is skipped.
    for command in COMMANDS.items():
        name = command.__name__
        if name in BUILT_IN:
            # A plugin never stands in for a core command: the plugin's is left out.
            log.warning("skipping command %r from %s: a core command has that name", name,
                        COMMANDS.provenance(name).distribution)
            continue
        app.command(name)(command)


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
