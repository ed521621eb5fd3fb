"""Process-wide settings the package makes on import."""

from __future__ import annotations

import os
import subprocess
import sys


def _policy_seen(env: dict[str, str]) -> str:
    code = "import harness, os; print(os.environ['OMP_WAIT_POLICY'])"
    return subprocess.run([sys.executable, "-c", code], env=env, check=True,
                          capture_output=True, text=True).stdout.strip()


def test_openmp_waits_passively_unless_the_user_says_otherwise() -> None:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    assert _policy_seen(env) == "PASSIVE"
    assert _policy_seen({**env, "OMP_WAIT_POLICY": "ACTIVE"}) == "ACTIVE"
