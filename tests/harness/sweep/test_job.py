"""What a job records about its encoders: each member's parameter count and their sum."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from harness.encoder import ENCODERS
from harness.loaders import build_encoder
from harness.model.ensemble import combine
from harness.record import combine_infos
from harness.sweep.execute import parameter_counts
from harness.sweep.run_record import with_params

from ..test_record import DINO, SIGLIP, record


def test_a_combination_records_each_members_count_and_the_sum() -> None:
    combo = with_params(combine_infos([SIGLIP, DINO]), (11, 22))
    assert combo.params == 33 and [p.params for p in combo.parts] == [11, 22]
    written = json.loads(record(combo).to_json())["encoder"]
    assert written["params"] == 33 and [p["params"] for p in written["parts"]] == [11, 22]
    single = with_params(SIGLIP, (5,))
    assert single.params == 5 and single.parts == ()
    with pytest.raises(ValueError, match="has 2 encoders, got 1 counts"):
        with_params(combine_infos([SIGLIP, DINO]), (11,))


def test_parameter_counts_follow_the_members_in_order() -> None:
    torch.manual_seed(0)
    encoders = [build_encoder(ENCODERS.get(i), tiny=True)
                for i in ("clip-vit-l14-224.openai", "dinov2-vit-l14-518.lvd142m")]
    counts = parameter_counts(combine(encoders))
    assert counts == tuple(e.num_parameters() for e in encoders) and all(counts)
    assert parameter_counts(encoders[0]) == (encoders[0].num_parameters(),)


def test_every_file_of_a_run_is_readable_by_other_users(tmp_path: Path,
                                                        mini_preset: Path) -> None:
    """Under umask 022, a run folder (record, config, ticket, status, model, predictions,
    draws) is 0644 throughout: a dashboard or ingest running as another user reads it."""
    import os
    import stat

    from harness.sweep.job import RunJob

    from .conftest import plan_mini

    [run] = plan_mini(tmp_path / "root", mini_preset, recipes=("frozen",))
    old = os.umask(0o022)
    try:
        assert RunJob(checkpoint_every_s=0).run_one(run) == "done"
    finally:
        os.umask(old)
    modes = {str(p.relative_to(run.run_dir)): stat.S_IMODE(p.stat().st_mode)
             for p in Path(run.run_dir).rglob("*") if p.is_file()}
    assert "model/model.safetensors" in modes and "record.json" in modes
    assert {name: mode for name, mode in modes.items() if mode != 0o644} == {}
