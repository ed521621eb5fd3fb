"""DataLoader workers: images are decoded in the worker processes, what they find unreadable
still reaches the run, and a run stopped mid-stage resumes exactly with workers reading ahead."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.data.conversations import ConversationDataset
from harness.record import read_record
from harness.sweep.execute import execute
from harness.sweep.job import RunJob
from harness.sweep.preempt import Preempted

from .conftest import MINI_PRESET, PreemptAt, plan_mini

WORKERS_PRESET = MINI_PRESET + "[data_loading]\nworkers = 2\nprefetch_factor = 2\n"


@pytest.fixture
def workers_preset(tmp_path: Path) -> Path:
    path = tmp_path / "workers.toml"
    path.write_text(WORKERS_PRESET)
    return path


def test_images_are_decoded_in_the_workers(tmp_path: Path, workers_preset: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    decoders = tmp_path / "decoders"
    decoders.mkdir()
    read = ConversationDataset.__getitem__

    def noted(self, i):  # the forked workers inherit this; each notes its process id
        (decoders / str(os.getpid())).touch()
        return read(self, i)

    monkeypatch.setattr(ConversationDataset, "__getitem__", noted)
    run = plan_mini(tmp_path / "runs", workers_preset)[0]
    assert run.data_loading.workers == 2
    assert RunJob(checkpoint_every_s=0).run_one(run) == "done"
    pids = {int(p.name) for p in decoders.iterdir()}
    assert pids and os.getpid() not in pids  # every training image was read by a worker


def test_a_stopped_run_resumes_exactly_with_workers(tmp_path: Path,
                                                    workers_preset: Path) -> None:
    straight = plan_mini(tmp_path / "straight", workers_preset)[0]
    assert RunJob(checkpoint_every_s=0).run_one(straight) == "done"
    stopped = plan_mini(tmp_path / "stopped", workers_preset)[0]
    assert stopped.key == straight.key  # workers are how a run goes, not what it measures
    with pytest.raises(Preempted):
        execute(stopped, PreemptAt(stopped, "finetune", 2))
    assert RunJob(checkpoint_every_s=0).run_one(stopped) == "done"
    a, b = read_record(Path(straight.run_dir)), read_record(Path(stopped.run_dir))
    assert b.train["finetune"]["resumed_at_step"] == 2
    for name in ("align", "finetune"):
        for field in ("first_loss", "final_loss", "steps"):
            assert a.train[name][field] == b.train[name][field], (name, field)
    assert [(s.subset, s.value) for s in a.scores] == [(s.subset, s.value) for s in b.scores]


def test_unreadable_images_found_by_workers_are_counted(tmp_path: Path,
                                                        workers_preset: Path) -> None:
    run = plan_mini(tmp_path / "runs", workers_preset)[0]
    from harness.sweep.execute import training_data

    training_data(run)  # writes the probe
    image = sorted((Path(run.data_dir)).rglob("*.png"))[0]
    image.write_bytes(b"torn")
    assert RunJob(checkpoint_every_s=0).run_one(run) == "failed"
    error = read_record(Path(run.run_dir)).error
    assert "images unreadable" in error and "max_bad_images" in error
