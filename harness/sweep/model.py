"""A run's MLLM: built from its config exactly as the job builds it, and the finished model kept
in the run folder (``model/``: safetensors weights, the tokenizer, ``model.json``) so that
``harness eval`` can rebuild it later. Nothing here is pickled."""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from accelerate.utils import DistributedDataParallelKwargs, parse_flag_from_env, set_seed
from safetensors.torch import load_model as load_safetensors
from safetensors.torch import save_file
from safetensors.torch import save_model as save_safetensors
from torch import nn
from transformers import AutoTokenizer

from harness.encoder import ENCODERS
from harness.errors import HarnessError
from harness.loaders import build_fixed_encoder
from harness.model.connector_options import current_name
from harness.model.connector_parts import FeatureShape
from harness.model.connectors import CONNECTORS
from harness.model.llm import build_llm, image_token_id
from harness.model.mllm import MLLM
from harness.parallel import Parallel, without_aliases
from harness.recipe import Recipe
from harness.record import atomic_write_text, replace_folder, with_umask_mode
from harness.sweep.accelerate_config import check_distributed_type
from harness.sweep.plan import Run

MODEL_DIR = "model"
WEIGHTS = "model.safetensors"
INFO = "model.json"
TOKENIZER = "tokenizer"
FORMAT = 1
PARTS = ("encoder", "connector", "llm")
SaveMode = Literal["all", "trainable", "none"]
SAVE_MODES: tuple[str, ...] = ("all", "trainable", "none")


def build_model(run: Run, corpus: Iterable[str] = (), tokenizer=None,
                llm_dtype: torch.dtype = torch.float32):
    """The run's MLLM with its initial weights, and its tokenizer.

    Seeded by the run's seed before anything is built, so a tiny twin's and the tiny LLM's
    random weights are the same on every build: the job and ``harness eval`` both call this.
    ``tokenizer`` replaces the one the tiny LLM would train on ``corpus`` (a saved one).
    ``llm_dtype`` is the dtype a pretrained LLM is read in (bf16 before FSDP shards it).
    """
    config = run.config
    set_seed(config.seed)
    encoders = []
    for encoder_id in run.encoder_ids:  # several for a combination (a+b)
        # The same random weights in every seed and combination (and so the same cached
        # features), and in triage.
        encoders.append(build_fixed_encoder(ENCODERS.get(encoder_id), tiny=run.tiny))
    # A run of sva before it became Cambrian's module is built by sva-lite, the same module.
    spec = CONNECTORS.get(current_name(config.connector, config.connector_version))
    if spec.version != config.connector_version:
        raise HarnessError(
            f"run {run.key} was trained with version {config.connector_version} of connector "
            f"{spec.base!r}, this installation has version {spec.version}: its weights do not "
            "fit")
    llm, tokenizer = build_llm(config.llm, corpus, tokenizer=tokenizer, dtype=llm_dtype)
    connector = spec.create(
        [FeatureShape(e.embed_dim, e.grid) for e in encoders], llm.config.hidden_size)
    # One encoder is held as itself (unchanged state-dict keys), several as an EncoderGroup.
    return MLLM(encoders, connector, llm, image_token_id(tokenizer)), tokenizer


def enable_gradient_checkpointing(llm) -> None:
    """Recompute the LLM's decoder layers in the backward pass instead of keeping their
    activations. Non-reentrant checkpointing: gradients still reach the connector when the
    LLM itself is frozen (align), and dropout replays the same masks."""
    # transformers 5 renamed the switch (the old name still works, with a warning); 4.x has
    # only the old one.
    enable = getattr(llm, "activation_checkpointing_enable", None)
    if enable is not None:
        enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:
        llm.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


def make_accelerator(recipe: Recipe):
    """The accelerate state a run trains and evaluates under: bf16 autocast or fp32 as the
    recipe says, and the distributed setup from accelerate's own configuration (the variables
    ``accelerate launch`` or a sweep's ``accelerate_config`` set, and the process group a
    multi-task job joins); a setup the loop cannot train with is refused."""
    # One accelerate state per process: a job may run many runs in one process.
    AcceleratorState._reset_state(reset_partial_state=True)
    accelerator = Accelerator(
        cpu=not torch.cuda.is_available(),
        mixed_precision="bf16" if recipe.precision == "bf16" else "no",
        # Unused parameters are normal here: features are read from the encoder's
        # second-to-last layer, so an unfrozen encoder's last block gets no gradient.
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)])
    check_distributed_type(accelerator.distributed_type.value, "accelerate environment")
    return accelerator


def distributed_for(run: Run) -> str:
    """How the run's processes share the model: the run's ``distributed`` (its preset's or
    cluster profile's), or ``fsdp`` when the accelerate config asks for FSDP. The harness
    shards with torch's own FSDP2 either way (accelerate's plugin is not used: on CPU it
    falls back to DDP without a word)."""
    if parse_flag_from_env("ACCELERATE_USE_FSDP") or run.distributed == "fsdp":
        return "fsdp"
    return "ddp"  # ``auto`` that no memory plan turned into fsdp


def tokenizer_hash(tokenizer) -> str:
    """The vocabulary and merges a model was trained with (a resumed or rebuilt model must
    read text exactly as it was trained to)."""
    return hashlib.sha256(tokenizer.backend_tokenizer.to_str().encode()).hexdigest()[:16]


def trained_parts(recipe: Recipe) -> tuple[str, ...]:
    """The parts a recipe changes: the connector always, the LLM in ``finetune``, the encoder
    when unfrozen."""
    trained = {"connector"}
    if recipe.stage("finetune") is not None:
        trained.add("llm")
    if recipe.encoder == "unfrozen":
        trained.add("encoder")
    return tuple(p for p in PARTS if p in trained)


def parts_for(mode: str, recipe: Recipe) -> tuple[str, ...]:
    if mode not in SAVE_MODES:
        raise HarnessError(f"unknown save_model {mode!r}; valid: {', '.join(SAVE_MODES)}")
    return PARTS if mode == "all" else trained_parts(recipe) if mode == "trainable" else ()


def weights_hash(module: nn.Module) -> str:
    """SHA-256 of a module's state (names, dtypes, shapes, bytes): the check that a part
    rebuilt rather than saved is the very one the run trained with."""
    return state_hash(module.state_dict())


def state_hash(state: dict[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(state.items()):
        t = tensor.detach().to("cpu").contiguous().reshape(-1)
        digest.update(f"{name}|{t.dtype}|{tuple(tensor.shape)}\0".encode())
        digest.update(t.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def _parts_module(model: MLLM, parts: Iterable[str]) -> nn.ModuleDict:
    # Named like the MLLM's attributes, so the file's keys read as in ``model.state_dict()``.
    return nn.ModuleDict({p: getattr(model, p) for p in parts})


def save_model(run: Run, model: MLLM, tokenizer, mode: str,
               parallel: Parallel | None = None) -> Path | None:
    """Write ``<run_dir>/model/`` for ``mode`` (``all``, ``trainable``, ``none``); the parts
    left out are rebuilt by ``load_model`` and checked against the hashes kept here. Written
    to a temporary folder and renamed, so a reader never sees half a model.

    Call it on every process: a sharded model (FSDP) is gathered once, onto the main
    process, which alone writes; the file is the same full safetensors either way."""
    parts = parts_for(mode, run.config.recipe)
    if not parts:
        return None
    sharded = parallel is not None and parallel.sharded
    full = parallel.full_state_dict(model) if sharded else None
    if parallel is not None and not parallel.is_main:
        return None
    folder = Path(run.run_dir) / MODEL_DIR
    tmp = folder.with_name(f".{MODEL_DIR}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    metadata = {"run_key": run.key, "parts": ",".join(parts)}
    if full is None:
        save_safetensors(_parts_module(model, parts), str(tmp / WEIGHTS), metadata=metadata)
        hashes = {p: weights_hash(getattr(model, p)) for p in PARTS if p not in parts}
    else:
        kept = {k: v.contiguous() for k, v in full.items() if k.split(".", 1)[0] in parts}
        save_file(without_aliases(kept), str(tmp / WEIGHTS), metadata=metadata)
        hashes = {p: state_hash({k.removeprefix(f"{p}."): v for k, v in full.items()
                                 if k.startswith(f"{p}.")})
                  for p in PARTS if p not in parts}
    with_umask_mode(tmp / WEIGHTS)
    tokenizer.save_pretrained(str(tmp / TOKENIZER))
    info = {
        "format": FORMAT, "run_key": run.key, "id": uuid.uuid4().hex, "save_model": mode,
        "parts": list(parts),
        "rebuilt": hashes,
        "params": {p: sum(t.numel() for t in getattr(model, p).parameters()) for p in PARTS},
        "encoder": run.encoder_id, "tiny": run.tiny,
        "tokenizer_hash": tokenizer_hash(tokenizer),
    }
    atomic_write_text(tmp / INFO, json.dumps(info, indent=2, sort_keys=True))
    return replace_folder(tmp, folder)


def read_info(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / MODEL_DIR / INFO
    try:
        info = json.loads(path.read_text())
    except FileNotFoundError:
        raise HarnessError(
            f"{Path(run_dir)} has no saved model ({MODEL_DIR}/{INFO}): the run has not finished,"
            " or its preset had save_model = \"none\"") from None
    except ValueError as exc:
        raise HarnessError(f"{path}: not valid JSON: {exc}") from None
    if info.get("format") != FORMAT:
        raise HarnessError(f"{path}: model format {info.get('format')!r}; this harness reads"
                           f" {FORMAT}")
    return info


def load_model(run: Run, device: str | torch.device = "cpu"):
    """The finished model of ``run`` (``run_dir/model/``): rebuilt through the registries as
    the job built it, the saved parts loaded, the others checked against their hashes.
    Returns ``(model, tokenizer, info)``."""
    folder = Path(run.run_dir) / MODEL_DIR
    info = read_info(Path(run.run_dir))
    if info.get("run_key") != run.key:
        raise HarnessError(f"{folder}: saved for run {info.get('run_key')!r}, but the folder's"
                           f" config is run {run.key!r}")
    if not (folder / WEIGHTS).is_file():
        raise HarnessError(f"{folder}: {WEIGHTS} is missing")
    tokenizer = AutoTokenizer.from_pretrained(str(folder / TOKENIZER))
    model, tokenizer = build_model(run, tokenizer=tokenizer)
    if tokenizer_hash(tokenizer) != info["tokenizer_hash"]:
        raise HarnessError(f"{folder}: the LLM's tokenizer differs from the one the run was"
                           f" trained with ({run.config.llm.id})")
    try:
        load_safetensors(_parts_module(model, info["parts"]), str(folder / WEIGHTS),
                         strict=True)
    except (RuntimeError, OSError, ValueError) as exc:
        raise HarnessError(f"{folder / WEIGHTS}: does not fit the rebuilt"
                           f" {'+'.join(info['parts'])}: {str(exc).splitlines()[0]}") from None
    for part, expected in info["rebuilt"].items():
        if weights_hash(getattr(model, part)) != expected:
            raise HarnessError(
                f"{folder}: the rebuilt {part} differs from the one the run used (only"
                f" {'+'.join(info['parts'])} were saved; were the {part}'s weights changed?)")
    return model.to(device).eval(), tokenizer, info
