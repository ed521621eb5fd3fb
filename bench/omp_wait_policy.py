"""Why harness sets OMP_WAIT_POLICY=PASSIVE: the same small training loop timed with OpenMP's
default (worker threads spin while they wait) and with PASSIVE (they sleep), on an idle
machine and with other busy processes competing for the cores, in one run.

    python bench/omp_wait_policy.py [--busy 2] [--steps 60] [--threads N]

Each setting runs in a fresh interpreter, since OpenMP reads the variable once at start-up.
A busy machine is made with --busy processes that spin on the CPU for the whole measurement.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import time

from report import ratio_line

LOOP = """
import sys, time, torch
torch.manual_seed(0)
torch.set_num_threads({threads})
# About the size of a smoke-preset step: a few small layers over a batch of token sequences.
model = torch.nn.Sequential(*[torch.nn.Linear(128, 128) for _ in range(8)])
x = torch.randn(16 * 90, 128)
opt = torch.optim.AdamW(model.parameters())
start = time.perf_counter()
for _ in range({steps}):
    loss = model(x).square().mean()
    loss.backward()
    opt.step()
    opt.zero_grad()
print(time.perf_counter() - start)
"""


def _spin(stop_at: float) -> None:
    while time.monotonic() < stop_at:
        pass


def timed(policy: str | None, threads: int, steps: int) -> float:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    out = subprocess.run([sys.executable, "-c", LOOP.format(threads=threads, steps=steps)],
                         env=env, check=True, capture_output=True, text=True).stdout
    return float(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--busy", type=int, default=os.cpu_count() or 2,
                        help="competing busy processes in the loaded case")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2,
                        help="torch threads (default: every core, torch's own default)")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, torch threads {args.threads}, {args.steps} steps; "
          f"load before start {os.getloadavg()[0]:.1f}")
    print(f"{'machine':28} {'default s':>10} {'PASSIVE s':>10} {'ratio':>7}")
    for label, busy in (("idle", 0), (f"{args.busy} busy processes", args.busy)):
        hogs = [multiprocessing.Process(target=_spin, args=(time.monotonic() + 3600,))
                for _ in range(busy)]
        for hog in hogs:
            hog.start()
        try:
            # Alternate the two settings so that drifting load hits both alike.
            default = timed(None, args.threads, args.steps)
            passive = timed("PASSIVE", args.threads, args.steps)
            default = min(default, timed(None, args.threads, args.steps))
            passive = min(passive, timed("PASSIVE", args.threads, args.steps))
        finally:
            for hog in hogs:
                hog.terminate()
                hog.join()
        print(f"{label:28} {default:10.2f} {passive:10.2f} {default / passive:6.1f}x")
    # The last setting measured is the busy machine, the case PASSIVE is for.
    print(ratio_line("omp_wait_policy (busy machine, default / PASSIVE)", default / passive))


if __name__ == "__main__":
    main()
