"""How training is spread over processes: ``ddp`` or ``fsdp``, behind one small interface.

``ddp`` keeps the whole model in every process (accelerate's DistributedDataParallel, wrapped
anew for each stage, since which parameters train changes between stages). ``fsdp`` shards
every parameter, gradient and optimizer state over the processes with torch's FSDP2
(``fully_shard``): per LLM decoder layer, per encoder block, and the rest (the connector, the
embeddings, the LM head) in the root unit. A 7B LLM's AdamW state (about 16 bytes a parameter)
fits on no 80 GB GPU under DDP; sharded over 8 it is 14 GB a GPU.

The model is wrapped once; each stage builds its optimizer over its own trainable parameters,
so a frozen parameter never gets optimizer state. The same code runs on CPU (gloo) and GPU
(NCCL): the tests train, checkpoint and resume it with two CPU processes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import torch
import torch.distributed as dist
from torch import nn

from harness.errors import HarnessError

Distributed = Literal["ddp", "fsdp"]
STRATEGIES: tuple[str, ...] = ("ddp", "fsdp")


class Parallel:
    """What the training loop and the job ask of a strategy; this base is one process (or
    DDP, see ``DataParallel``) with nothing sharded."""

    name: str = "ddp"
    sharded: bool = False

    def __init__(self, accelerator) -> None:
        self.accelerator = accelerator

    @property
    def rank(self) -> int:
        return self.accelerator.process_index

    @property
    def world(self) -> int:
        return self.accelerator.num_processes

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        self.accelerator.wait_for_everyone()

    # ---- the training loop
    def prepare(self, model: nn.Module) -> nn.Module:
        """The module a stage trains (its forward and backward reduce gradients)."""
        raise NotImplementedError

    def prepare_optimizer(self, optimizer):
        return optimizer

    def no_sync(self, trained: nn.Module) -> contextlib.AbstractContextManager:
        """Accumulate gradients without reducing them (every micro-batch but a step's last)."""
        raise NotImplementedError

    def clip(self, trained: nn.Module, max_norm: float) -> None:
        raise NotImplementedError

    def release(self, trained: nn.Module) -> None:
        """End of a stage: the model as it was before ``prepare``."""

    # ---- the job
    @contextlib.contextmanager
    def full_params(self, model: nn.Module) -> Iterator[None]:
        """Every process holds every parameter in the block (evaluation: each process scores
        its own share of the items, with no collective per forward)."""
        yield

    def full_state_dict(self, model: nn.Module) -> dict[str, torch.Tensor]:
        """The whole model's state on the main process (an empty dict on the others)."""
        return model.state_dict() if self.is_main else {}

    def close(self) -> None:
        """The run is over: give back what this strategy started for it."""


class DataParallel(Parallel):
    """DDP through accelerate (or a single process): each process holds the whole model."""

    name = "ddp"

    def prepare(self, model: nn.Module) -> nn.Module:
        return self.accelerator.prepare_model(model)

    def prepare_optimizer(self, optimizer):
        return self.accelerator.prepare_optimizer(optimizer)

    def no_sync(self, trained: nn.Module) -> contextlib.AbstractContextManager:
        return self.accelerator.no_sync(trained)

    def clip(self, trained: nn.Module, max_norm: float) -> None:
        self.accelerator.clip_grad_norm_(trained.parameters(), max_norm)

    def release(self, trained: nn.Module) -> None:
        """The model out of DDP, its forward without the autocast wrapper accelerate put on
        it, and forgotten by the accelerator, so the next stage prepares it afresh."""
        model = self.accelerator.unwrap_model(trained, keep_fp32_wrapper=False)
        # accelerate marks what it returned as prepared and would hand it back untouched: in
        # one process that is the model itself, and every stage must be prepared alike (a
        # resumed run may start at any of them).
        vars(model).pop("_is_accelerate_prepared", None)
        self.accelerator.free_memory()


class FullyShardedDataParallel(Parallel):
    """FSDP2 over the accelerator's process group: ``shard`` wraps the model in place once."""

    name = "fsdp"
    sharded = True

    def __init__(self, accelerator, model: nn.Module, precision: str) -> None:
        super().__init__(accelerator)
        self._own_group = ensure_process_group(accelerator.device)
        shard(model, precision)

    def close(self) -> None:
        # A group of one started for this run would otherwise outlive it, and the job's next
        # run would find a process group it did not ask for.
        if self._own_group:
            dist.destroy_process_group()
            self._own_group = False

    def prepare(self, model: nn.Module) -> nn.Module:
        return model

    @contextlib.contextmanager
    def no_sync(self, trained: nn.Module) -> Iterator[None]:
        trained.set_requires_gradient_sync(False)
        try:
            yield
        finally:
            trained.set_requires_gradient_sync(True)

    def clip(self, trained: nn.Module, max_norm: float) -> None:
        # DTensor-aware: the norm is reduced over every process's shards.
        torch.nn.utils.clip_grad_norm_([p for p in trained.parameters() if p.grad is not None],
                                       max_norm)

    @contextlib.contextmanager
    def full_params(self, model: nn.Module) -> Iterator[None]:
        # deferred: fsdp and checkpoint take ~0.7 s each to import; only FSDP runs use them
        from torch.distributed.fsdp import FSDPModule

        units = [m for m in model.modules() if isinstance(m, FSDPModule)]
        # All-gathered once and kept until the block ends: forwards then need no collective,
        # so processes may run different numbers of them (their shares of a benchmark).
        for unit in units:
            unit.set_reshard_after_forward(False)
            unit.unshard()
        try:
            yield
        finally:
            for unit in units:
                unit.reshard()
                unit.set_reshard_after_forward(True)

    def full_state_dict(self, model: nn.Module) -> dict[str, torch.Tensor]:
        # deferred: fsdp and checkpoint take ~0.7 s each to import; only FSDP runs use them
        from torch.distributed.checkpoint.state_dict import (
            StateDictOptions,
            get_model_state_dict,
        )

        # Gathered one parameter at a time onto the main process's CPU (the others get {}).
        full = get_model_state_dict(
            model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
        # A tied parameter comes back as two gathered copies: make them one tensor again, so
        # the file holds it once (as for an unsharded model).
        for names in tied_names(model):
            if names[0] in full:
                for alias in names[1:]:
                    full[alias] = full[names[0]]
        return full


def ensure_process_group(device: torch.device) -> bool:
    """FSDP needs a process group even for one process (a single GPU: the bench's FSDP
    case); accelerate starts none then, so start a group of one. True if started here."""
    if dist.is_initialized():
        return False
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend, store=dist.HashStore(), rank=0, world_size=1)
    return True


def tied_names(model: nn.Module) -> list[list[str]]:
    """Groups of state-dict names that are one parameter (a tied LM head), each sorted."""
    by_id: dict[int, list[str]] = {}
    for name, value in model.state_dict(keep_vars=True).items():
        by_id.setdefault(id(value), []).append(name)
    return [sorted(names) for names in by_id.values() if len(names) > 1]


def make_parallel(accelerator, model: nn.Module, distributed: str, precision: str) -> Parallel:
    """The strategy a run trains under; ``fsdp`` shards ``model`` in place."""
    if distributed not in STRATEGIES:
        raise HarnessError(f"unknown distributed {distributed!r}; valid: {', '.join(STRATEGIES)}")
    if distributed == "fsdp":
        return FullyShardedDataParallel(accelerator, model, precision)
    return DataParallel(accelerator)


# ---------------------------------------------------------------- sharding the MLLM
def find_decoder_layers(llm: nn.Module) -> nn.ModuleList | None:
    """The LLM's decoder layers (``get_decoder().layers``), or None where it has none."""
    layers = getattr(getattr(llm, "get_decoder", lambda: None)(), "layers", None)
    return layers if isinstance(layers, nn.ModuleList) and len(layers) else None


def decoder_layers(llm: nn.Module) -> nn.ModuleList:
    """The LLM's decoder layers (one FSDP unit each); refused where it has none."""
    layers = find_decoder_layers(llm)
    if layers is None:
        raise HarnessError(f"fsdp: LLM {type(llm).__name__} has no decoder layers to shard"
                           " (get_decoder().layers)")
    return layers


def encoder_blocks(encoder: nn.Module) -> list[nn.Module]:
    """The repeated blocks of an encoder (one FSDP unit each): the children of its largest
    ``ModuleList`` or ``Sequential`` of two or more modules of one type, by parameter count
    (a ViT's ``blocks``, a ConvNeXt's stages; a classifier head of mixed layers is not one).
    None found: the encoder stays whole in the root unit."""
    def size(module: nn.Module) -> int:
        return sum(p.numel() for p in module.parameters())

    lists = [m for m in encoder.modules()
             if isinstance(m, nn.ModuleList | nn.Sequential) and len(m) > 1
             and len({type(child) for child in m}) == 1]
    if not lists:
        return []
    biggest = max(lists, key=size)
    return [block for block in biggest if size(block) > 0]


def mixed_precision(precision: str):
    """bf16 parameters and compute, fp32 gradient reduction; fp32: none."""
    # deferred: fsdp and checkpoint take ~0.7 s each to import; only FSDP runs use them
    from torch.distributed.fsdp import MixedPrecisionPolicy

    if precision == "bf16":
        return MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
    return MixedPrecisionPolicy()


def shard(model: nn.Module, precision: str) -> None:
    """Wrap ``model`` (an MLLM) with ``fully_shard`` in place, then keep fp32 master shards.

    A pretrained LLM may be loaded in bf16 to halve host memory before sharding (released
    weights are bf16 anyway); each process then upcasts only its own shard.
    """
    # deferred: fsdp and checkpoint take ~0.7 s each to import; only FSDP runs use them
    from torch.distributed.fsdp import fully_shard, register_fsdp_forward_method

    policy = mixed_precision(precision)
    for encoder in model.encoders:  # each of a combination's own
        for block in encoder_blocks(encoder):
            fully_shard(block, mp_policy=policy)
    for layer in decoder_layers(model.llm):
        fully_shard(layer, mp_policy=policy)
    fully_shard(model, mp_policy=policy)
    # generate() enters through the root, not its forward: it must gather the root's
    # parameters the same way.
    register_fsdp_forward_method(model, "generate")
    model.float()


# ---------------------------------------------------------------- sharded checkpoints
def _flat_state(model: nn.Module, optimizer) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every process's view of the state: tensors (sharded, ``model.*`` and ``optimizer.*``)
    and the optimizer's plain values (learning rates, betas) by name."""
    # deferred: fsdp and checkpoint take ~0.7 s each to import; only FSDP runs use them
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        get_model_state_dict,
        get_state_dict,
    )

    options = StateDictOptions(flatten_optimizer_state_dict=True)
    if optimizer is None:
        model_state, optim_state = get_model_state_dict(model, options=options), {}
    else:
        model_state, optim_state = get_state_dict(model, optimizer, options=options)
    tensors = {f"model.{k}": v for k, v in model_state.items()}
    tensors.update({f"optimizer.{k}": v for k, v in optim_state.items()
                    if isinstance(v, torch.Tensor)})
    plain = {k: v for k, v in optim_state.items() if not isinstance(v, torch.Tensor)}
    return tensors, plain


def without_aliases(tensors: dict[str, Any]) -> dict[str, Any]:
    """One name per storage: a tied LM head is the embedding itself, and safetensors
    refuses to write one tensor twice (loading one name fills both). The name kept is the
    first in sorted order, as ``safetensors.torch.save_model`` keeps it; an empty shard has
    no storage to share and is always kept."""
    seen: set[tuple[int, int]] = set()
    kept = set()
    for name in sorted(tensors):
        value = tensors[name]
        local = value.to_local() if hasattr(value, "to_local") else value
        storage = (local.untyped_storage().data_ptr(), local.storage_offset())
        if local.numel() == 0 or storage not in seen:
            seen.add(storage)
            kept.add(name)
    return {name: value for name, value in tensors.items() if name in kept}


def save_sharded(folder: Path, model: nn.Module, optimizer=None) -> dict[str, Any]:
    """Every process writes its shards into ``folder`` (safetensors, one file per process,
    through ``torch.distributed.checkpoint``); no process ever holds the full model. Returns
    the optimizer's plain values, for the caller's JSON. Call on every process."""
    # deferred: fsdp and checkpoint take ~0.7 s each to import; only FSDP runs use them
    import torch.distributed.checkpoint as dcp

    tensors, plain = _flat_state(model, optimizer)
    dcp.save(without_aliases(tensors),
             storage_writer=dcp.HuggingFaceStorageWriter(str(folder), save_distributed=True))
    return plain


def load_sharded(folder: Path, model: nn.Module, optimizer=None,
                 plain: dict[str, Any] | None = None) -> None:
    """Read what ``save_sharded`` wrote back into the (already sharded) model and optimizer;
    each process reads only its shards. Call on every process."""
    # deferred: fsdp and checkpoint take ~0.7 s each to import; only FSDP runs use them
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        set_model_state_dict,
        set_state_dict,
    )

    tensors, _ = _flat_state(model, optimizer)
    reader = dcp.HuggingFaceStorageReader(str(folder))
    saved = set(reader.read_metadata().state_dict_metadata)
    wanted = without_aliases(tensors)
    # A parameter that never got a gradient (an unfrozen encoder's last block: features come
    # from the one before) had no optimizer state when saved; reading it asked for one.
    stateless = {k for k in wanted if k not in saved}
    lacking = sorted(k for k in stateless if not k.startswith("optimizer.state."))
    if lacking:
        raise HarnessError(f"{folder}: the checkpoint has no {lacking[0]!r}; it was written"
                           " for another model")
    dcp.load({k: v for k, v in wanted.items() if k in saved}, storage_reader=reader)
    options = StateDictOptions(flatten_optimizer_state_dict=True)
    model_state = {k.removeprefix("model."): v for k, v in tensors.items()
                   if k.startswith("model.")}
    if optimizer is None:
        set_model_state_dict(model, model_state, options=options)
        return
    optim_state = {k.removeprefix("optimizer."): v for k, v in tensors.items()
                   if k.startswith("optimizer.")}
    set_state_dict(model, optimizer, model_state_dict=model_state,
                   optim_state_dict={**optim_state, **(plain or {})}, options=options)
    params = dict(model.named_parameters())
    for key in stateless:  # as saved: no state at all for those
        fqn = key.removeprefix("optimizer.state.").rsplit(".", 1)[0]
        if fqn in params:
            optimizer.state.pop(params[fqn], None)
