"""``harness import-cambrian-connector FILE --encoders a+b``: a Cambrian-1 connector checkpoint
(its own layout: ``mm_projector.*``, ``vision_sampler_<g>.*``, ...) as a run folder that
``harness eval`` scores."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.cli.common import console
from harness.errors import HarnessError
from harness.preset import PRESETS, load_preset_file
from harness.sweep.execute import benchmark_folder, training_data
from harness.sweep.import_connector import import_connector
from harness.sweep.inputs import run_root
from harness.sweep.service import resolve_recipes


def import_cambrian_connector(
    file: Annotated[Path, typer.Argument(help="The checkpoint: .safetensors, or a PyTorch "
                                              ".bin/.pt (read with weights_only).")],
    encoders: Annotated[str, typer.Option(help="The encoders it was trained on, in its "
                                               "order, joined by '+'.")],
    preset: Annotated[str, typer.Option(help="Preset (LLM, benchmarks, whether encoders are "
                                             "tiny twins) or a .toml file.")] = "llava-1.5",
    recipe: Annotated[str | None, typer.Option(help="The recipe the run is filed under "
                                                    "(default: the preset's first).")] = None,
    seed: int = 0,
    root: Annotated[Path | None, typer.Option(help="Run root (default $HARNESS_ROOT, else "
                                              "./harness-runs).")] = None,
) -> None:
    """Turn a Cambrian-1 connector checkpoint into a run folder harness eval can score."""
    if "," in encoders:
        raise HarnessError(f"--encoders {encoders!r}: one checkpoint is one combination; join "
                           "its encoders with '+'")
    chosen = load_preset_file(preset) if preset.endswith(".toml") else PRESETS.get(preset)
    [recipe_chosen] = resolve_recipes(recipe, chosen.recipes[:1])
    run = import_connector(file, encoders, recipe_chosen, chosen, seed, run_root(root))
    data = "--data-dir <folder>"
    if run.config.data is not None:  # a probe preset: write the probes the run would score

        probes = training_data(run)[2]
        data = " ".join(f"--data-dir {b['name']}={benchmark_folder(run, b['name'], probes)}"
                        for b in run.config.benchmarks)
    console.print(f"imported {file} as run {run.key} ({run.config.connector}) in "
                  f"{run.run_dir}\nscore it: harness eval --checkpoint {run.run_dir} "
                  f"--benchmarks {','.join(b['name'] for b in run.config.benchmarks)} {data} "
                  "--db", highlight=False, markup=False, soft_wrap=True)
