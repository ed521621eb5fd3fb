"""The CLI: machine-readable output, and bad input as one line with a non-zero exit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from harness.cli import app as app_module
from harness.cli.app import BUILT_IN, app
from harness.encoder import ENCODERS, available_encoder_ids
from harness.errors import HarnessError
from harness.registry import Registry

runner = CliRunner()


def harness(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The installed console script, as a user runs it."""
    cmd = [sys.executable, "-c", "from harness.cli.app import main; main()", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)


def test_encoders_list_json() -> None:
    result = runner.invoke(app, ["encoders", "list", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [e["id"] for e in data["encoders"]] == ENCODERS.names()
    clip = next(e for e in data["encoders"] if e["id"] == "clip-vit-l14-336.openai")
    assert clip["distribution"] == "encoder-harness" and clip["resolution"] == 336
    only_ssl = json.loads(runner.invoke(app, ["encoders", "list", "--group", "ssl",
                                              "--format", "json"]).output)
    assert {e["group"] for e in only_ssl["encoders"]} == {"ssl"}


def test_dry_run_json_plans_every_encoder_and_recipe(tmp_path: Path) -> None:
    result = runner.invoke(app, ["sweep", "--encoders", "all", "--preset", "smoke",
                                 "--root", str(tmp_path), "--dry-run", "--format", "json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert plan["executor"] == "local"
    runs = plan["runs"]
    assert len(runs) == len(available_encoder_ids()) * 2
    assert {r["recipe"] for r in runs} == {"frozen", "unfrozen"}
    assert all(r["state"] == "new" and r["scheduled"] and len(r["key"]) == 12 for r in runs)
    assert not (tmp_path / "runs").exists()  # a dry run writes nothing


@pytest.mark.parametrize(("args", "message"), [
    (["sweep", "--encoders", "clip-nope", "--preset", "smoke"],
     "error: unknown encoder 'clip-nope'; valid: all, clip-vit-l14-224.openai"),
    (["sweep", "--encoders", "all", "--preset", "huge"],
     "error: unknown preset 'huge'; valid: cambrian-study, llava-1.5, probe-cpu, real-cpu, sample,"
     " smoke"),
    (["sweep", "--encoders", "all", "--preset", "smoke", "--recipes", "frozen,warm"],
     "error: unknown recipe 'warm'; valid: cambrian-1stage-frozen,"),
    (["sweep", "--encoders", "all", "--preset", "smoke", "--executor", "cloud"],
     "error: unknown executor 'cloud'; valid: local, debug, slurm"),
    (["sweep", "--encoders", "clip-vit-l14-224.openai+dino-nope", "--preset", "smoke"],
     "error: unknown encoder 'dino-nope' in 'clip-vit-l14-224.openai+dino-nope'; valid: all,"),
    (["sweep", "--encoders", "clip-vit-l14-224.openai", "--preset", "smoke", "--connector",
      "interleave"],
     "error: connector 'interleave' takes exactly 2 encoder(s), but 'clip-vit-l14-224.openai'"
     " has 1; valid for 1 encoder(s): concat, mlp2x_gelu, sva, sva-lite"),
    (["sweep", "--encoders", "all", "--preset", "smoke", "--connector", "qformer"],
     "error: unknown connector 'qformer'; valid: "),
    (["sweep", "--encoders", "all", "--preset", "smoke", "--connector", "sva",
      "--connector-args", "grid=12,groups=0"],
     "error: connector 'sva': bad groups='0'; expected an integer >= 1"),
    (["sweep", "--encoders", "siglip-vit-so400m14-384.webli+dinov2-vit-l14-518.lvd142m",
      "--preset", "smoke", "--connector-args", "query=12"],
     "error: connector 'sva' has no option 'query'; valid: grid, groups, heads, hidden,"
     " layers, llm_modules"),
    (["encoders", "list", "--group", "cnn"],
     "error: unknown group 'cnn'; valid: clip, ssl, convnext, other"),
])
def test_bad_names_are_user_errors(tmp_path: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, [*args, "--root", str(tmp_path)] if args[0] == "sweep" else args)
    assert isinstance(result.exception, HarnessError), result.output
    assert f"error: {result.exception}".startswith(message)
    assert not (tmp_path / "runs").exists()


def test_console_script_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    result = harness("sweep", "--encoders", "clip-nope", "--preset", "smoke", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: unknown encoder 'clip-nope'; valid: all,")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "harness-runs").exists()  # nothing written for a bad command


def test_connector_args_reach_the_plan_and_bad_ones_exit_2(tmp_path: Path) -> None:
    pair = "siglip-vit-so400m14-384.webli+dinov2-vit-l14-518.lvd142m"
    result = runner.invoke(app, ["sweep", "--encoders", pair, "--preset", "smoke",
                                 "--recipes", "frozen", "--connector-args",
                                 "grid=12,groups=1,layers=2", "--dry-run", "--format", "json",
                                 "--root", str(tmp_path)])
    assert result.exit_code == 0, result.output
    runs = json.loads(result.output)["runs"]
    # The smoke preset's tiny sva options fill what the command line does not set.
    assert [r["connector"] for r in runs] == ["sva(grid=12,heads=4,hidden=64,layers=2)"]
    bad = harness("sweep", "--encoders", pair, "--preset", "smoke", "--connector", "sva-lite",
                  "--connector-args", "every=x", cwd=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.strip() == ("error: connector 'sva-lite': bad every='x'; expected an"
                                  " integer >= 0")
    assert "Traceback" not in bad.stderr + bad.stdout


def test_help_lists_every_built_in_command_and_each_loads() -> None:
    group = get_command(app)
    listed = runner.invoke(app, ["--help"]).output
    for name in BUILT_IN:
        assert f"  {name} " in listed, name
        assert group.get_command(None, name) is not None, name


def test_a_command_that_reads_runs_starts_without_torch(tmp_path: Path) -> None:
    # Each command's module loads when it runs; `status` needs no model code (torch,
    # transformers): importing them took about 6 s on 2 cores.
    code = ("import sys; from harness.cli.app import main; sys.argv = ['harness', 'status',"
            f" '--root', {str(tmp_path)!r}];\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('torch' in sys.modules, 'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=600).stdout
    assert out.split()[-2:] == ["False", "False"]


def test_a_plugin_command_never_replaces_a_core_one(monkeypatch: pytest.MonkeyPatch,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    def status() -> None:
        """A plugin's status."""

    plugins = Registry("command", None, name_of=lambda f: f.__name__)
    plugins.register(status)
    monkeypatch.setattr(app_module, "COMMANDS", plugins)
    app_module._mount_plugin_commands()
    assert "a core command has that name" in caplog.text
    assert "Every planned run's state" in runner.invoke(app, ["status", "--help"]).output
