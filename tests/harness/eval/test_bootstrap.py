"""Bootstrap intervals over each benchmark's own unit: their width where it is known, whole
groups resampled, strata kept, the seed repeating them, and no interval from too little."""

from __future__ import annotations

from harness.eval import mmvp
from harness.eval.bootstrap import Bootstrap, intervals
from harness.eval.scoring import Judged, Metric, cvbench_scores, mean_accuracy


def pairs(n: int, right_pairs: int) -> list[Judged]:
    return [Judged(p < right_pairs, n_choices=2, idx=f"{p}-{k}", group=f"pair{p}")
            for p in range(n) for k in range(2)]


def test_mmvp_pair_accuracy_at_50_percent_is_about_8_points_either_way() -> None:
    drawn = intervals(mmvp.score, pairs(150, 75))
    interval = drawn[("pair_accuracy", "overall")]
    assert interval.low < 50 < interval.high
    assert 14 < interval.high - interval.low < 19  # DESIGN: about +-8 for 150 pairs
    assert drawn == intervals(mmvp.score, pairs(150, 75))  # seeded: the same again
    assert drawn != intervals(mmvp.score, pairs(150, 75), Bootstrap(seed=1))


def test_a_pair_drawn_twice_counts_twice() -> None:
    # Two pairs, one right: if a doubled draw merged into one group, 100 and 0 would be the
    # only values and the interval would not be a percentile of {0, 50, 100} draws.
    drawn = intervals(mmvp.score, pairs(2, 1), Bootstrap(resamples=400))
    assert drawn[("pair_accuracy", "overall")].low == 0.0
    assert drawn[("pair_accuracy", "overall")].high == 100.0


def test_cvbench_resamples_within_each_source() -> None:
    judged = ([Judged(True, "Count", "2D", "ADE20K", 2, idx=f"a{i}") for i in range(20)]
              + [Judged(False, "Count", "2D", "COCO", 2, idx=f"c{i}") for i in range(5)]
              + [Judged(True, "Depth", "3D", "Omni3D", 2, idx=f"o{i}") for i in range(10)])
    drawn = intervals(cvbench_scores, judged, within="source")
    # Each source always right or always wrong: within sources nothing varies.
    assert drawn[("accuracy", "overall")].low == drawn[("accuracy", "overall")].high == 75.0

    def coco_items(sample: list[Judged]) -> list[Metric]:
        return [Metric("overall", sum(j.source == "COCO" for j in sample), len(sample))]

    kept = intervals(coco_items, judged, within="source")[("accuracy", "overall")]
    assert kept.low == kept.high == 5  # every draw holds each source's own count
    loose = intervals(coco_items, judged)[("accuracy", "overall")]
    assert loose.low < 5 < loose.high


def test_fewer_than_two_units_give_no_interval() -> None:
    assert intervals(lambda j: [mean_accuracy(j)], [Judged(True, idx="1")]) == {}
    assert intervals(lambda j: [mean_accuracy(j)], []) == {}


def test_the_draws_depend_on_the_units_not_on_their_order() -> None:
    import random

    from harness.eval.bootstrap import replicates

    judged = pairs(40, 25)
    shuffled = judged[:]
    random.Random(3).shuffle(shuffled)
    a, b = replicates(mmvp.score, judged), replicates(mmvp.score, shuffled)
    assert a is not None and b is not None and a.units == b.units
    assert (a.values[("pair_accuracy", "overall")] == b.values[("pair_accuracy",
                                                                 "overall")]).all()
    # Other units, other digest: pooled and paired intervals know the runs differ.
    other = replicates(mmvp.score, pairs(41, 25))
    assert other is not None and other.units != a.units


def test_a_replicates_file_reads_back_and_nothing_else_is_read() -> None:
    import io

    import numpy as np
    import pytest

    from harness.eval.bootstrap import from_bytes, replicates, to_bytes

    drawn = replicates(mmvp.score, pairs(30, 10), Bootstrap(resamples=50))
    assert drawn is not None
    back = from_bytes(to_bytes(drawn))
    assert back.units == drawn.units and back.settings == drawn.settings
    assert back.intervals() == drawn.intervals()
    pickled = io.BytesIO()
    np.savez(pickled, units=np.array([object()], dtype=object))
    for bad in (b"not an npz", pickled.getvalue(), to_bytes(drawn)[:100]):
        with pytest.raises(ValueError):
            from_bytes(bad)
