"""bench/gpu_step.py runs without a GPU (reduced shapes, no MFU) and reports the three cases
it compares; the figures themselves are the bench's to state, never a test's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "bench" / "gpu_step.py"


@pytest.mark.slow
def test_the_gpu_bench_runs_on_cpu_at_reduced_shapes() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--steps", "1", "--repeats", "1", "--warmup", "1",
         "--batch", "1", "--format", "json"], capture_output=True, text=True, timeout=600,
        env={"CUDA_VISIBLE_DEVICES": "", "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1",
             "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["device"] == "cpu" and result["peak_tflops_bf16"] is None
    assert result["shapes"]["llm_width"] == 512  # reduced: no GPU
    assert set(result["cases"]) == {"ours", "ours-fsdp", "llava"}
    for case in result["cases"].values():
        assert case["tokens_per_s"] > 0 and case["mfu"] is None
        assert case["planned_memory_gib"] > 0 and case["peak_memory_gib"] is None
        assert case["frozen_encoder_params"] > 0 and case["trainable_params"] > 0
    # FSDP on one device plans no less than DDP (nothing to shard over, layers gathered).
    cases = result["cases"]
    assert cases["ours-fsdp"]["planned_memory_gib"] >= cases["ours"]["planned_memory_gib"]
    # The same model three ways: the same trainable parameters.
    assert len({c["trainable_params"] for c in result["cases"].values()}) == 1
