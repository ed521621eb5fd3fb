"""The alignment half of the AC score ("Law of Vision Representation in MLLMs", Yang et al.,
2024): how near an encoder's visual tokens, after a trained connector, come to a reference
encoder's (CLIP in the paper) in the same LLM's embedding space. Per picture, each of the
encoder's tokens takes its highest cosine similarity to any reference token; the score is the
mean over tokens and pictures, times 100.

It needs what only a finished run has: the encoder's trained connector, and the reference's
on the same LLM. Without them the proxy is skipped with the reason, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from harness.record import Score
from harness.store import Store
from harness.sweep.model import INFO, MODEL_DIR, load_model
from harness.sweep.plan import load_run
from harness.triage.data import TriageData
from harness.triage.proxies import OVERALL, proxy_score
from harness.triage.scenes import TASKS
from harness.triage.stored import RECIPE

NAME = "alignment"
METRIC = "max-cosine"
DEFAULT_REFERENCE = "clip-vit-l14-336.openai"
"""The paper's reference encoder (its A score compares every representation with CLIP@336)."""


class NoProjector(Exception):
    """The proxy cannot be computed from what the store holds (the message says why)."""


@dataclass(frozen=True)
class Connectors:
    """The finished runs whose connectors are compared: the encoder's and the reference's."""

    encoder_run: str
    reference_run: str
    llm: str

    def as_config(self) -> dict[str, Any]:
        return {"encoder_run": self.encoder_run, "reference_run": self.reference_run,
                "llm": self.llm}


def _saved_runs(store: Store, encoder_id: str, smoke: bool) -> list[dict[str, Any]]:
    """Finished runs of the encoder with a saved model, newest first."""
    runs = [r for r in store.runs(status="done", encoder=encoder_id, smoke=smoke)
            if r["recipe"] != RECIPE]
    out = []
    for summary in runs:
        run_dir = (store.run(summary["run_key"]) or {}).get("run_dir") or ""
        if run_dir and (Path(run_dir) / MODEL_DIR / INFO).is_file():
            out.append({**summary, "run_dir": run_dir})
    return out


def find_connectors(store: Store, encoder_id: str, reference: str, smoke: bool) -> tuple[
        Connectors, dict[str, str]]:
    """The newest pair of finished runs, one of each encoder, on the same LLM (the same recipe
    when there is one); raises ``NoProjector`` with the reason when there is none."""
    mine = _saved_runs(store, encoder_id, smoke)
    if not mine:
        raise NoProjector(f"no finished run of {encoder_id} with a saved model (its trained "
                          "connector is the projector the score needs)")
    theirs = _saved_runs(store, reference, smoke)
    if not theirs:
        raise NoProjector(f"no finished run of the reference {reference} with a saved model "
                          "(choose another with --alignment-reference)")
    pairs = [(a, b) for a in mine for b in theirs if a["llm"] == b["llm"]]
    if not pairs:
        raise NoProjector(f"no run of {encoder_id} shares an LLM with a run of {reference}")
    a, b = next(((a, b) for a, b in pairs if a["recipe"] == b["recipe"]), pairs[0])
    return (Connectors(a["run_key"], b["run_key"], a["llm"]),
            {a["run_key"]: a["run_dir"], b["run_key"]: b["run_dir"]})


def _visual_tokens(run_dir: str, images: list, device: str) -> torch.Tensor:
    model, _, _ = load_model(load_run(Path(run_dir)), device)
    transform = model.encoders[0].transform()
    with torch.no_grad():
        out = [model.visual_tokens(torch.stack([transform(im) for im in images[i:i + 32]])
                                   .to(device)).float().cpu()
               for i in range(0, len(images), 32)]
    return torch.cat(out)


def alignment(data: TriageData, connectors: Connectors, run_dirs: dict[str, str],
              device: str = "cpu") -> list[Score]:
    """The score over the triage test pictures (every task's), with its interval over them."""
    images = [scene.render(data.settings.image_size)
              for task in TASKS for scene, _ in data.test[task]]
    mine = nn.functional.normalize(
        _visual_tokens(run_dirs[connectors.encoder_run], images, device), dim=-1)
    theirs = nn.functional.normalize(
        _visual_tokens(run_dirs[connectors.reference_run], images, device), dim=-1)
    per_image = (mine @ theirs.transpose(1, 2)).amax(dim=-1).mean(dim=-1).numpy()
    return [proxy_score(NAME, METRIC, OVERALL, [np.asarray(per_image)], chance=None,
                        resamples=data.settings.resamples, seed=data.settings.seed,
                        scale=100.0, low=-100.0)]
