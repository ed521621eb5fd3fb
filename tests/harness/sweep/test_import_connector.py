"""``harness import-cambrian-connector``: a connector checkpoint in Cambrian's layout becomes a
run folder ``harness eval`` scores, with the checkpoint's weights; bad files and encoders that
do not fit are one-line errors that leave nothing behind."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from typer.testing import CliRunner

from harness.cli.app import app
from harness.errors import HarnessError
from harness.model.cambrian import export_connector_state
from harness.model.connector_parts import FeatureShape
from harness.model.connectors import CONNECTORS
from harness.model.llm import LLMS
from harness.record import read_record
from harness.sweep.model import load_model
from harness.sweep.plan import load_run
from harness.sweep.sizes import encoder_shape, llm_shape

PAIR = ["clip-vit-l14-224.openai", "dinov2-vit-l14-518.lvd142m"]
NAME = "sva(grid=4,hidden=32,layers=1,llm_modules=1)"
runner = CliRunner()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """Cambrian's layout (``model.`` prefix) of an sva sized for the smoke preset's models."""
    shapes = [FeatureShape(d, g) for _, _, d, g in (encoder_shape(p, True) for p in PAIR)]
    llm = llm_shape(LLMS.get("tiny-llama"))
    torch.manual_seed(3)
    connector = CONNECTORS.get(NAME).create(shapes, llm.hidden)
    connector.attach_llm(llm.layers)
    state = {k: v.contiguous() for k, v in export_connector_state(connector, prefix=True).items()}
    path = tmp_path_factory.mktemp("ckpt") / "mm_projector.safetensors"
    save_file(state, str(path))
    return path, state


def run_import(path: Path, root: Path, encoders: str = "+".join(PAIR)):
    return runner.invoke(app, ["import-cambrian-connector", str(path), "--encoders", encoders,
                               "--preset", "smoke", "--root", str(root)])


def test_a_checkpoint_becomes_a_run_harness_eval_scores(tmp_path: Path, checkpoint) -> None:
    path, state = checkpoint
    result = run_import(path, tmp_path)
    assert result.exit_code == 0, result.output
    [folder] = (tmp_path / "runs").iterdir()
    run = load_run(folder)
    assert run.config.connector == NAME and run.config.connector_version == 2
    record = read_record(folder)
    assert record.status == "done" and record.train["imported"]["layout"] == "cambrian-1"
    model, _, _ = load_model(run)
    saved = export_connector_state(model.connector, prefix=True)
    assert set(saved) == set(state) and all(torch.equal(saved[k], state[k]) for k in state)
    # The command it prints scores the run.
    command = re.search(r"harness eval (.*)$", " ".join(result.output.split())).group(1)
    scored = runner.invoke(app, ["eval", *command.split(),
                                 f"sqlite:///{tmp_path / 'h.db'}"])
    assert scored.exit_code == 0, scored.output
    assert any(s.benchmark == "probe" for s in read_record(folder).scores)
    again = run_import(path, tmp_path)
    assert isinstance(again.exception, HarnessError) and "already exists" in str(again.exception)


def test_bad_files_and_encoders_are_one_line_errors(tmp_path: Path, checkpoint) -> None:
    path, state = checkpoint
    code = tmp_path / "evil.bin"
    code.write_bytes(pickle.dumps(print))  # a pickle that would call code: never loaded
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    cases = [
        (tmp_path / "missing.safetensors", "+".join(PAIR), "no checkpoint file"),
        (text, "+".join(PAIR), "unknown checkpoint format '.txt'; valid: .safetensors"),
        (code, "+".join(PAIR), "not a readable checkpoint"),
        (path, PAIR[0], "1 encoder shapes were given"),
        (path, ",".join(PAIR), "one checkpoint is one combination"),
    ]
    for file, encoders, message in cases:
        result = run_import(file, tmp_path / "root", encoders)
        assert isinstance(result.exception, HarnessError), (file, result.output)
        assert message in str(result.exception) and "\n" not in str(result.exception)
    assert not (tmp_path / "root" / "runs").exists()
