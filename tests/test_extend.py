"""The README's "Extend it" examples, run as written.

Each example is a fenced block whose first line names its file (``# path``, ``{# path #}``).
The plugin's modules are written out and its entry points declared (a ``.dist-info`` on the
path, which is how an installed distribution announces them), and one smoke sweep trains on
its data source and scores its benchmark with its encoder, LLM, connector, recipe and preset.
The page and the route are added to a copy of ``api/`` (the ``diff`` blocks applied to it) and
requested from a live app.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCK = re.compile(r"^```(\w+)\n(?:# |\{# )(\S+?)(?: #\})?\n(.*?)^```$", re.S | re.M)
HARNESS = str(Path(sys.executable).parent / "harness")  # the console script pip installed
COLOURS = {"red": (220, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 220)}


def examples() -> dict[str, tuple[str, str]]:
    """Path -> (language, text) of every labelled block in the section."""
    section = README.read_text().split("\n## Extend it\n", 1)[1].split("\n## ", 1)[0]
    found = {}
    for language, path, body in BLOCK.findall(section):
        label = "{# " + path + " #}\n" if language == "html" else f"# {path}\n"
        found[path] = (language, body if language in ("toml", "diff") else label + body)
    return found


def apply_diff(path: Path, diff: str) -> None:
    """Apply ``@@``-separated hunks: each hunk's context and ``-`` lines must appear in the
    file exactly once, and become its context and ``+`` lines."""
    text = path.read_text()
    for hunk in filter(None, diff.split("@@\n")):
        lines = hunk.splitlines()
        old = "".join(line[1:] + "\n" for line in lines if line[0] in " -")
        new = "".join(line[1:] + "\n" for line in lines if line[0] in " +")
        assert text.count(old) == 1, f"{path}: the README's hunk no longer matches:\n{old}"
        text = text.replace(old, new)
    path.write_text(text)


def run(args: list[str], pythonpath: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(pythonpath), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=600)


def write_plugin(into: Path) -> None:
    """The plugin's modules, and the metadata pip would install for its pyproject.toml."""
    blocks = examples()
    project = tomllib.loads(blocks["pyproject.toml"][1])["project"]
    for path, (_, text) in blocks.items():
        if path.startswith("my_harness_plugin/"):
            (into / path).parent.mkdir(parents=True, exist_ok=True)
            (into / path).write_text(text)
    (into / "my_harness_plugin" / "__init__.py").touch()
    info = into / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\n"
                                   f"Version: {project['version']}\n")
    (info / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{name} = {value}\n" for name, value in points.items())
        for group, points in project["entry-points"].items()))


def write_data_root(root: Path) -> None:
    """``my-captions`` and ``my-colours`` in the layouts their declarations describe."""
    captions, colours = root / "my-captions", root / "my-colours"
    (captions / "images").mkdir(parents=True)
    (colours / "images").mkdir(parents=True)
    names = list(COLOURS)
    conversations, questions = [], []
    for i in range(24):
        name = names[i % 3]
        Image.new("RGB", (32, 32), COLOURS[name]).save(captions / "images" / f"{i}.png")
        conversations.append({"id": str(i), "image": f"{i}.png", "conversations": [
            {"from": "human", "value": "<image>\nWhat colour is this?"},
            {"from": "gpt", "value": name}]})
    for i in range(9):
        Image.new("RGB", (32, 32), COLOURS[names[i % 3]]).save(colours / "images" / f"{i}.png")
        questions.append({"id": i, "image": f"{i}.png", "question": "Which colour fills it?",
                          "choices": names, "answer": "ABC"[i % 3]})
    (captions / "conversations.json").write_text(json.dumps(conversations))
    (colours / "questions.json").write_text(json.dumps(questions))


def test_every_example_names_its_file_and_the_table_names_every_group() -> None:
    blocks = examples()
    groups = tomllib.loads(blocks["pyproject.toml"][1])["project"]["entry-points"]
    assert set(groups) == {"harness.encoders", "harness.llms", "harness.data_sources",
                           "harness.benchmarks", "harness.connectors", "harness.recipes",
                           "harness.presets"}
    section = README.read_text().split("\n## Extend it\n", 1)[1].split("\n## ", 1)[0]
    for group in groups:
        assert f"`{group}`" in section
    assert {"api/dashboard/pages/coverage.py", "api/dashboard/templates/coverage.html",
            "api/dashboard/pages/__init__.py", "api/routes/coverage.py",
            "api/app.py"} <= set(blocks)


def test_the_example_code_passes_the_projects_lint(tmp_path: Path) -> None:
    for path, (language, text) in examples().items():
        if language == "python":
            (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / path).write_text(text)
    lint = subprocess.run([sys.executable, "-m", "ruff", "check", "--config",
                           str(ROOT / "pyproject.toml"), str(tmp_path)],
                          capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout


def test_the_plugin_examples_train_and_score_in_one_smoke_sweep(tmp_path: Path) -> None:
    plugin, data = tmp_path / "plugin", tmp_path / "data"
    plugin.mkdir()
    write_plugin(plugin)
    write_data_root(data)
    encoder = "vit-t16-224.augreg-in21k-ft-in1k"
    listed = run([HARNESS, "encoders", "list", "--format",
                  "json"], plugin, tmp_path)
    assert listed.returncode == 0, listed.stderr
    row = next(r for r in json.loads(listed.stdout)["encoders"] if r["id"] == encoder)
    assert (row["distribution"], row["distribution_version"]) == ("my-harness-plugin", "0.1.0")
    swept = run([HARNESS, "sweep", "--encoders", encoder,
                 "--preset", "my-smoke", "--data-root", str(data), "--root",
                 str(tmp_path / "runs"), "--executor", "debug", "--format", "json"],
                plugin, tmp_path)
    assert swept.returncode == 0, swept.stderr[-3000:]
    (run_summary,) = json.loads(swept.stdout)["runs"]
    assert run_summary["state"] == "done"
    record = json.loads(next((tmp_path / "runs").rglob("record.json")).read_text())
    config = record["config"]
    assert (config["llm"]["id"], config["connector"], config["recipe"]["name"]) == (
        "llama-h192-l3", "pooled-mlp", "frozen-one-stage")
    assert config["sources"]["finetune"]["name"] == "my-captions"
    (score,) = [s for s in record["scores"] if s["subset"] == "overall"]
    assert (score["benchmark"], score["n"]) == ("my-colours", 9)
    assert record["train"]["finetune"]["steps"] == 24 // 8  # one epoch of 24 at batch 8


@pytest.fixture
def api_copy(tmp_path: Path) -> Path:
    """This repository's ``api/`` package, copied, with the page and the route added as the
    README says."""
    shutil.copytree(ROOT / "api", tmp_path / "api",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for path, (language, text) in examples().items():
        if path.startswith("api/"):
            if language == "diff":
                apply_diff(tmp_path / path, text)
            else:
                (tmp_path / path).write_text(text)
    return tmp_path


SERVE = r'''
import sys
from pathlib import Path

from fastapi.testclient import TestClient

import api
from api.app import create_app
from api.settings import Settings
from harness.store import Store, ingest_records
from harness.store.synthetic import synthetic_records

assert Path(api.__file__).parent == Path(sys.argv[1]) / "api", api.__file__
url = f"sqlite:///{sys.argv[1]}/harness.db"
ingest_records(Store(url), synthetic_records(encoders=3, recipes=2, benchmarks=2, seeds=2))
with TestClient(create_app(Settings(db_url=url)), base_url="http://127.0.0.1") as client:
    page = client.get("/coverage")
    assert page.status_code == 200, page.text
    print(page.text.count("<tr><td>"))
    route = client.get("/api/v1/coverage")
    assert route.status_code == 200, route.text
    print(sorted((c["settings"], c["seeds"]) for c in route.json()))
'''


def test_the_page_and_route_examples_serve_from_a_copy_of_api(api_copy: Path) -> None:
    served = run([sys.executable, "-c", SERVE, str(api_copy)], api_copy, api_copy)
    assert served.returncode == 0, served.stderr[-3000:]
    rows, coverage = served.stdout.split("\n")[:2]
    assert int(rows) == 3  # one row per encoder
    assert coverage == str([(2, 4)] * 3)  # 2 recipes x 2 seeds each
