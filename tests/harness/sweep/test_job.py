"""What a job records about its encoders: each member's parameter count and their sum."""

from __future__ import annotations

import json

import pytest
import torch

from harness.encoder import ENCODERS, build_encoder
from harness.model.ensemble import combine
from harness.record import combine_infos
from harness.sweep.job import parameter_counts, with_params

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
