"""What a planned run will cost, said before anything is submitted: compute (FLOPs, and
GPU-hours on the cluster profile's GPU at a stated MFU), memory per GPU and disk.

The model is the usual transformer arithmetic, with its assumptions written here:

- A forward pass costs 2 FLOPs per parameter per token; a backward pass 4 (2 for the
  activations' gradients, 2 for the weights'). The align stage trains only the connector but
  its gradients flow back through the LLM: 4 per LLM parameter per token; finetune: 6.
  A frozen encoder runs forward only (2 per parameter per image token), an unfrozen one 6;
  the feature cache, when a run uses it, leaves one encoder forward per image.
- A sample is the LLM's image tokens plus its text, about 4 characters per token (measured on
  the source's annotations at plan time; 32 tokens for the probe's short questions).
- Evaluation: one forward per benchmark item over its image and 64 prompt tokens, plus the
  generated tokens.
- Memory under DDP (each GPU holds the whole model): fp32 weights (4 bytes per parameter, as
  the loop keeps them under bf16 autocast), fp32 gradients and Adam's two moments (12 bytes)
  per trainable parameter, and activations after Korthikanti et al. (2022): per layer
  ``seq * batch * hidden * (34 + 5 * heads * seq / hidden)`` bytes in 16-bit, or only the
  layer inputs (2 bytes per value) with gradient checkpointing.
- Memory under FSDP over ``gpus`` GPUs (``harness.parallel``): the same weights, gradients
  and moments divided by ``gpus``; plus, gathered in bf16 while a step runs, the root unit
  (the LLM's parameters outside its decoder layers: embeddings, LM head) held throughout and
  two decoder layers at a time (the one computing and the one prefetched); activations as
  under DDP. ``auto`` takes DDP where it fits (or where no GPU is named), else FSDP.
- The connector is left out of compute (well under 1% of the LLM's).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from harness.errors import HarnessError

DEFAULT_MFU = 0.35
"""The model FLOPs utilisation assumed when a profile states none (typical for LLaVA-style
training of a 7B LLM in bf16 on data-parallel GPUs)."""
CHARS_PER_TOKEN = 4.0
PROBE_TEXT_TOKENS = 32
EVAL_PROMPT_TOKENS = 64
GB = 1e9


@dataclass(frozen=True)
class GPU:
    name: str
    bf16_tflops: float
    """Dense peak in bf16 (no sparsity), from the vendor's data sheet."""
    memory_gb: float


GPUS: dict[str, GPU] = {g.name: g for g in (
    GPU("h100-sxm", 989.0, 80.0), GPU("h100-pcie", 756.0, 80.0), GPU("h200", 989.0, 141.0),
    GPU("a100-80gb", 312.0, 80.0), GPU("a100-40gb", 312.0, 40.0), GPU("l40s", 362.0, 48.0),
    GPU("a6000", 155.0, 48.0), GPU("v100", 125.0, 32.0),
)}


def gpu_named(name: str) -> GPU:
    if name not in GPUS:
        raise HarnessError(f"unknown gpu {name!r}; valid: {', '.join(GPUS)}")
    return GPUS[name]


@dataclass(frozen=True)
class Sizes:
    """What the estimate needs of a run's models."""

    encoder_params: int
    """Every encoder's parameters (a combination's summed)."""
    encoder_param_tokens: int
    """Sum over encoders of parameters x tokens per image: an image's forward is twice it."""
    image_tokens: int
    """Tokens of each image in the LLM's input (the connector's output)."""
    cached_values: int
    """Values per image in the feature cache: each encoder's tokens x its dimension."""
    llm_params: int
    llm_layers: int
    llm_hidden: int
    llm_heads: int
    llm_layer_params: int = 0
    """One decoder layer's parameters (0: the LLM's spread evenly over its layers)."""

    @property
    def layer_params(self) -> float:
        return self.llm_layer_params or self.llm_params / self.llm_layers


@dataclass(frozen=True)
class StageWork:
    name: str
    samples: int
    text_tokens: float


@dataclass(frozen=True)
class Cost:
    flops: float
    gpu_hours: float | None
    """None without a GPU to convert with."""
    wall_hours: float | None
    """GPU-hours over the run's GPUs (perfect scaling)."""
    memory_gb_per_gpu: float
    """Under the strategy chosen (``distributed``)."""
    fits: bool | None
    """Whether that memory fits the GPU; None without a GPU."""
    distributed: str
    """``ddp`` or ``fsdp``: the run's own, or what ``auto`` chose by memory."""
    memory_gb_ddp: float
    memory_gb_fsdp: float
    disk_gb: float
    assumptions: str

    def as_dict(self) -> dict[str, Any]:
        # Four significant figures: a smoke run's hours are tiny, a study's are large.
        return {k: (float(f"{v:.4g}") if isinstance(v, float) else v)
                for k, v in asdict(self).items()}


def run_cost(sizes: Sizes, stages: list[StageWork], *, encoder: str, eval_items: int,
             eval_new_tokens: int, micro_batch: int, gradient_checkpointing: bool,
             feature_cache: bool, keep: str, gpu: GPU | None, gpus: int, mfu: float,
             distributed: str = "auto") -> Cost:
    """The compute, memory and disk of one run (see the module's assumptions)."""
    flops = 0.0
    seen_images = 0
    for stage in stages:
        tokens = sizes.image_tokens + stage.text_tokens
        llm = (4 if stage.name == "align" else 6) * sizes.llm_params * tokens
        unfrozen = encoder == "unfrozen" and stage.name == "finetune"
        per_image = (6 if unfrozen else 2) * sizes.encoder_param_tokens
        if feature_cache and not unfrozen:
            per_image *= 0 if seen_images else 1  # computed once, read after
        flops += stage.samples * (llm + per_image)
        seen_images += stage.samples
    eval_tokens = sizes.image_tokens + EVAL_PROMPT_TOKENS + eval_new_tokens
    flops += eval_items * (2 * sizes.llm_params * eval_tokens + 2 * sizes.encoder_param_tokens)

    trainable = sizes.llm_params + (sizes.encoder_params if encoder == "unfrozen" else 0)
    weights = 4 * (sizes.llm_params + sizes.encoder_params)
    states = 12 * trainable
    seq = sizes.image_tokens + max(s.text_tokens for s in stages)
    per_layer = seq * micro_batch * sizes.llm_hidden
    activations = sizes.llm_layers * per_layer * (
        2 if gradient_checkpointing else 34 + 5 * sizes.llm_heads * seq / sizes.llm_hidden)
    ddp = (weights + states + activations) / GB
    gathered = 2 * (sizes.llm_params - sizes.llm_layers * sizes.layer_params) \
        + 2 * 2 * sizes.layer_params
    fsdp = ((weights + states) / gpus + gathered + activations) / GB
    chosen = choose_distributed(distributed, ddp, fsdp, gpu, gpus)
    memory = fsdp if chosen == "fsdp" else ddp

    saved = {"all": sizes.llm_params + sizes.encoder_params, "trainable": trainable,
             "none": 0}[keep]
    checkpoint = 4 * trainable + 8 * trainable  # weights and Adam moments mid-stage
    cache = (seen_images * sizes.cached_values * 2 if feature_cache and encoder == "frozen"
             else 0)
    disk = (4 * saved + checkpoint + cache) / GB

    hours = None if gpu is None else flops / (gpu.bf16_tflops * 1e12 * mfu) / 3600
    return Cost(flops=flops, gpu_hours=hours, wall_hours=None if hours is None else hours / gpus,
                memory_gb_per_gpu=memory,
                fits=None if gpu is None else memory <= gpu.memory_gb, distributed=chosen,
                memory_gb_ddp=ddp, memory_gb_fsdp=fsdp, disk_gb=disk,
                assumptions=f"MFU {mfu:.2f} on {gpu.name} x{gpus}" if gpu else
                "no GPU named: set gpu in the cluster profile for GPU-hours")


def choose_distributed(asked: str, ddp_gb: float, fsdp_gb: float, gpu: GPU | None,
                       gpus: int) -> str:
    """``auto``: DDP where it fits the GPU (or no GPU is named, or there is one GPU to shard
    over), else FSDP; ``ddp`` and ``fsdp`` as asked."""
    if asked != "auto":
        return asked
    if gpu is None or gpus == 1 or ddp_gb <= gpu.memory_gb:
        return "ddp"
    return "fsdp"


def memory_problem(cost: Cost, gpu: GPU, gpus: int) -> str | None:
    """A one-line refusal when the run fits its GPU under its strategy, with the numbers."""
    if cost.fits is not False:
        return None
    return (f"needs {cost.memory_gb_per_gpu:,.1f} GB per GPU under {cost.distributed}, the"
            f" {gpu.name} has {gpu.memory_gb:g} GB (DDP {cost.memory_gb_ddp:,.1f} GB, FSDP over"
            f" {gpus} GPU(s) {cost.memory_gb_fsdp:,.1f} GB): use more GPUs per run, a smaller"
            " micro_batch or gradient_checkpointing = true"
            + ("" if cost.distributed == "fsdp" else ", or distributed = \"fsdp\""))
