"""A Cambrian-1 connector checkpoint turned into a run folder (``harness
import-cambrian-connector``): the ``sva`` it describes, on the named encoders and the preset's
LLM, saved as a finished run that ``harness eval`` can score. Nothing is trained: the record
says where the weights came from.

The checkpoint is read as safetensors, or as a PyTorch file with ``weights_only=True`` (no code
in it runs). What its tensors do not say takes Cambrian's value: 16 heads, in-LLM modules from
decoder layer 0 every 3rd layer.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import torch
from safetensors.torch import load_file

from harness.errors import HarnessError
from harness.model.cambrian import connector_from_state, to_harness
from harness.model.connector_parts import FeatureShape
from harness.model.connectors import CONNECTORS
from harness.model.llm import resolve_llm
from harness.preset import Preset
from harness.recipe import Recipe
from harness.record import write_record
from harness.sweep.model import build_model, save_model
from harness.sweep.plan import Run, plan_sweep, split_combination, write_config
from harness.sweep.run_record import build_record, encoder_info
from harness.sweep.sizes import encoder_shape, llm_shape

SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


def read_state(path: Path) -> dict[str, torch.Tensor]:
    """The checkpoint's tensors; never unpickles anything but tensors."""
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"no checkpoint file {path}")
    if path.suffix not in SUFFIXES:
        raise HarnessError(f"{path}: unknown checkpoint format {path.suffix!r}; valid: "
                           f"{', '.join(SUFFIXES)}")
    try:
        if path.suffix == ".safetensors":

            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a corrupt or foreign file fails in many library ways
        raise HarnessError(f"{path}: not a readable checkpoint "
                           f"({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor)
                                              for v in state.values()):
        raise HarnessError(f"{path}: not a state dict of tensors")
    return state


def connector_name(state: dict[str, torch.Tensor], shapes: list[FeatureShape],
                   llm_dim: int) -> str:
    """The canonical ``sva(...)`` name of the connector the checkpoint describes."""
    built = connector_from_state(state, shapes, llm_dim)
    if len(set(built.group_sides)) > 1:
        raise HarnessError(f"the checkpoint's query groups use different grids "
                           f"{built.group_sides}: not a connector option here yet")
    options = {"grid": built.side, "groups": built.groups_count,
               "layers": len(built.samplers[0].layers), "hidden": built.hidden,
               "newline": int(built.newline is not None), "llm_modules": len(built.in_llm)}
    spelled = ",".join(f"{k}={v}" for k, v in options.items())
    return CONNECTORS.get(f"sva({spelled})").name


def import_connector(path: Path, entry: str, recipe: Recipe, preset: Preset, seed: int,
                     root: Path) -> Run:
    """Write the run folder for checkpoint ``path`` on encoders ``entry`` (``a+b``); returns
    the run. An existing folder for the same run is refused, never overwritten."""
    state = read_state(path)
    parts = split_combination(entry)
    shapes = [FeatureShape(dim, grid) for _, _, dim, grid in
              (encoder_shape(p, preset.tiny_encoders) for p in parts)]
    llm_sizes = llm_shape(_llm(preset))
    name = connector_name(state, shapes, llm_sizes.hidden)
    # The checkpoint decides every option: a preset's shrinking defaults must not fill any.
    bare = dataclasses.replace(preset, connector_defaults={})
    [run] = plan_sweep([entry], [recipe], bare, [seed], root, connector=name)
    if run.state != "new":
        raise HarnessError(f"run {run.key} already exists in {run.run_dir}")
    model, tokenizer = build_model(run)
    weights = to_harness(state)
    if len(model.connector.in_llm) != sum(k.endswith(".proj_in.weight") and
                                          k.startswith("in_llm.") for k in weights):
        raise HarnessError(f"the checkpoint's in-LLM modules do not fit {run.config.llm.id}'s "
                           f"{llm_sizes.layers} layers (it places them after"
                           f" {model.in_llm_layers})")
    missing, unexpected = model.connector.load_state_dict(
        {k: v.to(torch.float32) for k, v in weights.items()}, strict=False)
    if missing or unexpected:
        raise HarnessError(f"the checkpoint does not fit {name}: missing {missing[:3]}, "
                           f"unexpected {unexpected[:3]}")
    write_config(run)
    # The connector is what was imported: it is kept even where the preset keeps nothing.
    save_model(run, model, tokenizer, "trainable" if preset.save_model == "none"
               else preset.save_model)
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    record = build_record(run, encoder_info(run), train={
        "imported": {"from": str(Path(path).resolve()), "sha256": digest,
                     "layout": "cambrian-1", "assumed": "16 heads; in-LLM modules after "
                     "decoder layers 0, 3, 6, ..."}})
    write_record(Path(run.run_dir), record)
    return run


def _llm(preset: Preset):

    return resolve_llm(preset.llm)
