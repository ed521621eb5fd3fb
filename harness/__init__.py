"""Encoder Harness: train the same LLaVA-style MLLM on each image encoder and compare them."""

from __future__ import annotations

import os

__version__ = "0.1.0"

# OpenMP's worker threads spin while they wait by default. When other processes compete for
# a small machine's cores (a second job, a test run, a browser), the spinning threads starve
# each other and a CPU training step becomes many times slower; sleeping waiters cost little
# on an idle machine (bench/omp_wait_policy.py measures both). Set here, before torch loads
# OpenMP, so the CLI and every job it starts inherit it; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
