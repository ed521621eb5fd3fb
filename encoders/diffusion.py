"""Stable Diffusion 2.1: a generative UNet read as an encoder with one denoising step.

Needs the optional ``diffusers`` extra. The twin keeps SD's four-level UNet with cross-attention
and a four-level VAE (8x downsampling), at tiny widths.
"""

from __future__ import annotations

from harness.encoder import EncoderSpec

_TINY = {
    "unet": {"sample_size": 16, "block_out_channels": (16, 16, 32, 32), "layers_per_block": 1,
             "down_block_types": ("CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                                  "CrossAttnDownBlock2D", "DownBlock2D"),
             "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D",
                                "CrossAttnUpBlock2D"),
             "cross_attention_dim": 32, "attention_head_dim": 8, "norm_num_groups": 8},
    "vae": {"block_out_channels": (4, 4, 8, 8), "layers_per_block": 1, "norm_num_groups": 4,
            "latent_channels": 4, "down_block_types": ("DownEncoderBlock2D",) * 4,
            "up_block_types": ("UpDecoderBlock2D",) * 4},
    "text": {"vocab_size": 64, "hidden_size": 32, "intermediate_size": 64,
             "num_hidden_layers": 1, "num_attention_heads": 2, "max_position_embeddings": 8,
             "bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 1},
}

ENCODERS = [
    EncoderSpec(
        id="sd21-unet-512.laion5b", group="other", supervision="other", architecture="convnet",
        resolution=512, loader="diffusers", source="stabilityai/stable-diffusion-2-1",
        weights="laion5b", options={"timestep": 250, "up_blocks": (0, 1, 2, 3), "patch": 16},
        tiny=_TINY, tiny_resolution=128, requires=("diffusers",), extra="diffusers",
        description="Stable Diffusion 2.1 UNet, one step at t=250, up-block features at 512 px",
    ),
]
