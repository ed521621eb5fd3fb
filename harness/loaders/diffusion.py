"""The ``diffusers`` loader kind: a latent diffusion UNet as an encoder (Stable Diffusion 2.1 in
Cambrian's study). One denoising step: the VAE encodes the image, fixed-seed noise is added at
one timestep, the UNet runs with the empty prompt, and the outputs of chosen up-blocks are
resampled to one grid and concatenated on channels.

Needs the optional ``diffusers`` package (``pip install 'encoder-harness[diffusers]'``).
``source`` is a diffusers pipeline repository (subfolders ``unet``, ``vae``, ``scheduler``,
``text_encoder``, ``tokenizer``), or a local copy of one from ``weights_path`` /
``$HARNESS_WEIGHTS_DIR``. Options: ``timestep`` (250), ``up_blocks`` ([0, 1, 2, 3]), ``patch``
(16: the grid is the image size / patch), ``noise_seed`` (0: the same noise every call, so the
encoder is a function of its input). ``spec.tiny`` holds ``unet``, ``vae`` and ``text`` configs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from harness.encoder import Encoder, EncoderSpec, plain
from harness.errors import HarnessError
from harness.loaders.registry import register_loader
from harness.loaders.weights import local_weights, missing_weights

DEFAULTS = {"timestep": 250, "up_blocks": (0, 1, 2, 3), "patch": 16, "noise_seed": 0}
SD_BETAS = {"beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear"}


class DiffusionEncoder(Encoder):
    def __init__(self, spec: EncoderSpec, vae: nn.Module, unet: nn.Module,
                 alphas_cumprod: torch.Tensor, null_text: torch.Tensor, image_size: int) -> None:
        super().__init__()
        opts = {**DEFAULTS, **spec.options}
        self.timestep = int(opts["timestep"])
        self.up_blocks = tuple(int(i) for i in opts["up_blocks"])
        self.patch = int(opts["patch"])
        self.noise_seed = int(opts["noise_seed"])
        vae.decoder = None  # features need only the encoder half of the VAE
        self.vae = vae
        self.unet = unet
        if max(self.up_blocks) >= len(unet.up_blocks):
            raise HarnessError(f"encoder {spec.id!r}: up_blocks {self.up_blocks} but the UNet"
                               f" has {len(unet.up_blocks)}")
        alpha = alphas_cumprod[self.timestep]
        self.register_buffer("signal", alpha.sqrt().reshape(()), persistent=False)
        self.register_buffer("noise_scale", (1 - alpha).sqrt().reshape(()), persistent=False)
        self.register_buffer("null_text", null_text.detach(), persistent=False)
        self._finish(spec, image_size, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))

    def spatial(self, pixels: torch.Tensor) -> torch.Tensor:
        latents = self.vae.encode(pixels).latent_dist.mode() * self.vae.config.scaling_factor
        generator = torch.Generator().manual_seed(self.noise_seed)
        noise = torch.randn(latents.shape, generator=generator).to(latents)
        noisy = self.signal * latents + self.noise_scale * noise
        captured: dict[int, torch.Tensor] = {}
        hooks = [self.unet.up_blocks[i].register_forward_hook(
            lambda _m, _a, out, i=i: captured.__setitem__(i, out)) for i in self.up_blocks]
        try:
            text = self.null_text.expand(pixels.shape[0], -1, -1).to(noisy.dtype)
            timestep = torch.full((pixels.shape[0],), self.timestep, device=pixels.device)
            self.unet(noisy, timestep, encoder_hidden_states=text)
        finally:
            for hook in hooks:
                hook.remove()
        grid = (pixels.shape[-2] // self.patch, pixels.shape[-1] // self.patch)
        maps = [nn.functional.interpolate(captured[i], size=grid, mode="bilinear",
                                          align_corners=False) for i in self.up_blocks]
        return torch.cat(maps, dim=1)


def _tiny_parts(spec: EncoderSpec) -> tuple[Any, Any, torch.Tensor, torch.Tensor]:
    # deferred: diffusers is an optional extra (pip install encoder-harness[diffusers])
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel

    tiny = plain(spec.tiny)
    unet = UNet2DConditionModel(**tiny["unet"])
    vae = AutoencoderKL(**tiny["vae"])
    text = CLIPTextModel(CLIPTextConfig(**tiny["text"]))
    # The empty prompt for a tokenizer-less twin: begin token, then end-of-text padding.
    ids = torch.tensor([[0] + [1] * (text.config.max_position_embeddings - 1)])
    with torch.no_grad():
        null_text = text(ids)[0]
    return vae, unet, DDPMScheduler(**SD_BETAS).alphas_cumprod, null_text


def _real_parts(spec: EncoderSpec, where: str) -> tuple[Any, Any, torch.Tensor, torch.Tensor]:
    # deferred: diffusers is an optional extra (pip install encoder-harness[diffusers])
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel

    unet = UNet2DConditionModel.from_pretrained(where, subfolder="unet")
    vae = AutoencoderKL.from_pretrained(where, subfolder="vae")
    scheduler = DDPMScheduler.from_pretrained(where, subfolder="scheduler")
    tokenizer = CLIPTokenizer.from_pretrained(where, subfolder="tokenizer")
    text = CLIPTextModel.from_pretrained(where, subfolder="text_encoder")
    ids = tokenizer([""], padding="max_length", max_length=tokenizer.model_max_length,
                    return_tensors="pt").input_ids
    with torch.no_grad():
        null_text = text(ids)[0]
    return vae, unet, scheduler.alphas_cumprod, null_text


@register_loader("diffusers")
def build_diffusion(spec: EncoderSpec, tiny: bool, *,
                    weights_path: Path | None = None,
                    pretrained: bool = True) -> Encoder:
    size = spec.tiny_resolution if tiny else spec.resolution
    if tiny:
        parts = _tiny_parts(spec)
    elif not pretrained:
        raise HarnessError(f"encoder {spec.id!r}: the diffusers loader builds only with weights"
                           " (its configs live with them) or as a tiny twin")
    else:
        local, looked = local_weights(spec, weights_path)
        try:
            parts = _real_parts(spec, str(local) if local is not None else spec.source)
        except Exception as exc:  # OSError offline, missing subfolders, ...
            remote = str(local) if local is not None else f"the Hugging Face hub ({spec.source!r})"
            raise missing_weights(spec, looked, remote, exc) from exc
    vae, unet, alphas, null_text = parts
    return DiffusionEncoder(spec, vae.eval(), unet.eval(), alphas, null_text, size)
