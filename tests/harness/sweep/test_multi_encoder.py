"""Multi-encoder runs end to end: a sweep with a '+' combination trains and evaluates one MLLM
on both encoders (SVA and concat), records the combination, stores it under group ``multi``
and shows it in ``harness status``; a rerun schedules nothing."""

from __future__ import annotations

import json
from pathlib import Path

from safetensors import safe_open
from typer.testing import CliRunner

from harness.cli.app import app
from harness.errors import HarnessError
from harness.record import read_record
from harness.store import Store

from .conftest import straight_and_resumed

runner = CliRunner()

SIGLIP, DINO, CLIP = ("siglip-vit-l16-384.webli", "dinov2-vit-l14-518.lvd142m",
                      "clip-vit-l14-224.openai")
COMBO = f"{SIGLIP}+{DINO}"
SVA = "sva(grid=4,heads=2,hidden=16,layers=1)"
"""Cambrian's SVA at the mini preset's size (its [connector_defaults.sva])."""


def sweep(tmp_path: Path, preset: Path, *extra: str):
    return runner.invoke(app, ["sweep", "--preset", str(preset), "--root",
                               str(tmp_path / "root"), "--db", f"sqlite:///{tmp_path / 'h.db'}",
                               "--executor", "debug", "--recipes", "frozen", *extra])


def test_two_encoder_runs_train_evaluate_and_store(tmp_path: Path, mini_preset: Path) -> None:
    sva = sweep(tmp_path, mini_preset, "--encoders", COMBO)
    assert sva.exit_code == 0, sva.output
    assert "Planned 1 runs: 1 to run" in sva.output
    # Connector hyperparameters reach the model the job builds: a one-layer projection.
    concat = sweep(tmp_path, mini_preset, "--encoders", COMBO, "--connector", "concat",
                   "--connector-args", "depth=1")
    assert concat.exit_code == 0, concat.output

    records = {(r.encoder.id, r.connector): r for r in
               map(read_record, (tmp_path / "root").glob("runs/*/record.json"))}
    assert set(records) == {(COMBO, SVA), (COMBO, "concat(depth=1)")}
    folder = tmp_path / "root" / "runs" / records[(COMBO, "concat(depth=1)")].run_key
    with safe_open(str(folder / "model" / "model.safetensors"), "pt") as saved:
        # safe_open is not iterable: its names come from keys().
        connector_weights = {k for k in saved.keys() if k.startswith("connector.")}  # noqa: SIM118
    assert connector_weights == {"connector.proj.0.weight", "connector.proj.0.bias"}
    for connector in (SVA, "concat(depth=1)"):
        record = records[(COMBO, connector)]
        assert record.status == "done", record.error
        info = record.encoder
        assert info.group == "multi" and info.supervision == "language+self"
        assert [p.id for p in info.parts] == [SIGLIP, DINO]
        assert [p.resolution for p in info.parts] == [128, 112]  # each at its own size
        assert info.resolution == 128 and info.architecture == "vit"
        assert info.params > 0 and info.tiny and record.smoke
        # Each member's own count, in the connector's order, summing to the combination's.
        assert all(p.params > 0 for p in info.parts)
        assert info.params == sum(p.params for p in info.parts)
        assert info.parts[0].params != info.parts[1].params  # not one number copied twice
        assert record.train["finetune"]["steps"] == 3  # 12 samples / global batch 4
        overall = next(s for s in record.scores if s.subset == "overall")
        assert overall.n == 9 and 0 <= overall.value <= 100
        assert record.config["encoder"]["id"] == COMBO
        assert [p["id"] for p in record.config["encoder"]["parts"]] == [SIGLIP, DINO]

    store = Store(f"sqlite:///{tmp_path / 'h.db'}")
    rows = [r for r in store.leaderboard(subset="overall") if r["encoder_id"] == COMBO]
    assert {(r["group"], r["connector"]) for r in rows} == {("multi", SVA),
                                                            ("multi", "concat(depth=1)")}
    assert {r["group"] for r in store.leaderboard(subset="overall", group="multi")} == {"multi"}
    # Each run's line names the combination and its connector.
    assert f"ok {SIGLIP} + {DINO} (tiny twin) / concat(depth=1) / frozen / seed 0" in " ".join(
        concat.output.split())

    status = runner.invoke(app, ["status", "--root", str(tmp_path / "root"), "--format",
                                 "json"])
    assert status.exit_code == 0, status.output
    views = {(v["encoder"], v["connector"]): v for v in json.loads(status.output)["runs"]}
    assert views[(COMBO, SVA)]["state"] == "done"
    assert views[(COMBO, "concat(depth=1)")]["state"] == "done"

    again = sweep(tmp_path, mini_preset, "--encoders", COMBO)
    assert again.exit_code == 0 and "Nothing new to run" in again.output


def test_dry_run_lists_the_combination_and_its_connector(tmp_path: Path,
                                                         mini_preset: Path) -> None:
    result = sweep(tmp_path, mini_preset, "--encoders", f"{COMBO},{CLIP}", "--dry-run",
                   "--format", "json")
    assert result.exit_code == 0, result.output
    runs = json.loads(result.output)["runs"]
    assert [(r["encoder"], r["encoders"], r["connector"]) for r in runs] == [
        (COMBO, [SIGLIP, DINO], SVA), (CLIP, [CLIP], "mlp2x_gelu")]
    table = sweep(tmp_path, mini_preset, "--encoders", COMBO, "--dry-run")
    assert table.exit_code == 0, table.output
    assert runs[0]["key"] in table.output and "sva" in table.output
    cells = [line.split("│")[2].strip() for line in table.output.splitlines()
             if line.startswith("│")]
    # The combination's ids, folded in a narrow terminal but never cut.
    assert "".join(cells).replace(" ", "") == f"{SIGLIP}+{DINO}(tiny)"


def test_single_encoder_connector_for_a_combination_is_refused(tmp_path: Path,
                                                               mini_preset: Path) -> None:
    result = sweep(tmp_path, mini_preset, "--encoders", f"{COMBO},{CLIP}", "--connector",
                   "mlp2x_gelu")
    assert isinstance(result.exception, HarnessError)
    assert str(result.exception) == (
        f"connector 'mlp2x_gelu' takes exactly 1 encoder(s), but '{COMBO}' has 2; valid for 2"
        " encoder(s): concat, interleave, sva, sva-lite")
    assert not (tmp_path / "root" / "runs").exists()


def test_an_unfrozen_combination_resumes_exactly(tmp_path: Path, mini_preset: Path) -> None:
    """Both encoders train in finetune and are checkpointed with the rest: a run stopped in
    the middle of finetune ends with the losses and scores of one that never stopped."""
    straight, stopped = straight_and_resumed(tmp_path, mini_preset, encoders=(COMBO,))
    assert straight.config.recipe.encoder == "unfrozen"
    a, b = read_record(Path(straight.run_dir)), read_record(Path(stopped.run_dir))
    assert b.train["finetune"]["resumed_at_step"] == 2
    assert a.train["finetune"]["final_loss"] == b.train["finetune"]["final_loss"]
    assert [(s.subset, s.value) for s in a.scores] == [(s.subset, s.value) for s in b.scores]


def test_a_reaggregating_sva_lite_run_trains_and_evaluates(tmp_path: Path,
                                                           mini_preset: Path) -> None:
    # The LLM layers that re-aggregate are a sweep's choice: 1, 3, ... here instead of 0, 3, ...
    result = sweep(tmp_path, mini_preset, "--encoders", COMBO, "--connector", "sva-lite",
                   "--connector-args", "every=2,start=1", "--recipes", "unfrozen")
    assert result.exit_code == 0, result.output
    folder = next((tmp_path / "root").glob("runs/*/record.json")).parent
    record = read_record(folder)
    assert record.status == "done" and record.connector == "sva-lite(every=2,start=1)"
    assert record.train["finetune"]["final_loss"] > 0
    with safe_open(str(folder / "model" / "model.safetensors"), "pt") as saved:
        layers = {int(k.split(".")[2]) for k in saved.keys()  # noqa: SIM118
                  if k.startswith("connector.reaggregation.")}
    assert layers and all(i % 2 == 1 for i in layers)
