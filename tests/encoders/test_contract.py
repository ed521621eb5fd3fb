"""The encoder contract, run over every registered encoder's tiny twin (timm-style: every
encoder, present and future, gets the same test for free)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from PIL import Image

from harness.encoder import (
    ENCODERS,
    GROUPS,
    Encoder,
    EncoderSpec,
    available_encoder_ids,
    missing_requirements,
)
from harness.errors import HarnessError
from harness.loaders import build_encoder
from harness.loaders.weights import WEIGHTS_DIR_ENV

SPECS = ENCODERS.items()
# Cambrian-1's Figure 4 study, one id per encoder it compared (plus the real offline convnet).
FIGURE_4 = {
    "clip-vit-l14-224.openai", "clip-vit-l14-336.openai", "dfn-clip-vit-l14-224.dfn2b",
    "dfn-clip-vit-h14-378.dfn5b", "eva-clip-02-vit-l14-336.merged2b",
    "siglip-vit-l16-384.webli", "siglip-vit-so400m14-384.webli",
    "openclip-convnext-l-512.laion2b", "openclip-convnext-l-1024.laion2b",
    "openclip-convnext-xxl-1024.laion2b", "dinov2-vit-l14-336.lvd142m",
    "dinov2-vit-l14-518.lvd142m", "mocov3-vit-b16-224.in1k", "mocov3-vit-l16-224.in1k",
    "mae-vit-l16-224.in1k", "ijepa-vit-h14-224.in1k", "sam-vit-h16-1024.sa1b",
    "midas-dpt-vit-l16-384.midas3", "sd21-unet-512.laion5b", "vit-l16-224.in21k",
}


@pytest.fixture(scope="module", params=SPECS, ids=[s.id for s in SPECS])
def twin(request) -> Encoder:
    torch.manual_seed(0)
    return build_encoder(request.param, tiny=True)


def test_registry_has_the_three_compared_families() -> None:
    assert {"clip", "ssl", "convnext"} <= {s.group for s in SPECS}
    assert all(s.group in GROUPS for s in SPECS)
    assert ENCODERS.problems == []


def test_every_figure_4_encoder_is_registered_with_a_real_source() -> None:
    assert set(ENCODERS.names()) >= FIGURE_4
    for spec in SPECS:
        assert spec.loader in ("timm", "open_clip", "transformers", "file", "diffusers")
        assert spec.resolution >= 224 and spec.source
        if spec.weights_name == "random":  # a control: the network with random weights
            assert spec.weights is None, spec.id
        elif spec.id != "mocov3-vit-l16-224.in1k":  # no public file: the user supplies it
            assert spec.weights, spec.id


def test_every_optional_requirement_is_installed_for_the_tests() -> None:
    """The test extra installs every optional encoder, so CI runs each twin."""
    assert {s.id: missing_requirements(s) for s in SPECS if missing_requirements(s)} == {}
    assert available_encoder_ids() == ENCODERS.names()


def test_tokens_are_spatial_on_the_grid(twin: Encoder) -> None:
    pixels = torch.randn(2, 3, twin.image_size, twin.image_size)
    tokens = twin(pixels)
    h, w = twin.grid
    assert tokens.shape == (2, h * w, twin.embed_dim)
    assert 1 < h * w == twin.num_tokens <= 64  # small enough for a CPU smoke sweep
    assert twin.grid == twin.native_grid
    assert torch.isfinite(tokens).all()


def test_twin_stays_on_the_real_code_path(twin: Encoder) -> None:
    assert twin.spec.loader == ENCODERS.get(twin.spec.id).loader
    assert twin.image_size == twin.spec.tiny_resolution
    assert twin.num_parameters() < 2_000_000


def test_token_grid_resamples_to_a_target(twin: Encoder) -> None:
    resampled = build_encoder(twin.spec, tiny=True, output_grid=(3, 5))
    pixels = torch.randn(2, 3, twin.image_size, twin.image_size)
    tokens = resampled(pixels)
    assert resampled.grid == (3, 5) and resampled.native_grid == twin.native_grid
    assert tokens.shape == (2, 15, twin.embed_dim)
    assert torch.isfinite(tokens).all()
    assert resampled.spec.fingerprint(tiny=True) != twin.spec.fingerprint(tiny=True)


def test_transform_gives_the_encoder_input(twin: Encoder) -> None:
    image = Image.new("RGB", (97, 61), (200, 30, 30))
    pixels = twin.transform()(image)
    assert pixels.shape == (3, twin.image_size, twin.image_size)
    assert pixels.dtype == torch.float32
    # Normalised with the encoder's own statistics, not left in [0, 1].
    expected_red = (200 / 255 - twin.mean[0]) / twin.std[0]
    assert pixels[0].mean().item() == pytest.approx(expected_red, abs=0.02)


def test_deterministic(twin: Encoder) -> None:
    pixels = torch.randn(1, 3, twin.image_size, twin.image_size)
    twin.eval()
    assert torch.equal(twin(pixels), twin(pixels))
    torch.manual_seed(0)
    again = build_encoder(twin.spec, tiny=True)
    assert torch.equal(again(pixels), twin(pixels))


def test_tokens_depend_on_where_things_are(twin: Encoder) -> None:
    """A spatial encoder must tell a blob on the left from one on the right."""
    left = torch.zeros(1, 3, twin.image_size, twin.image_size)
    right = left.clone()
    half = twin.image_size // 2
    left[..., :, :half] = 1.0
    right[..., :, half:] = 1.0
    assert not torch.allclose(twin(left), twin(right))


def test_frozen_parameters_stay_frozen(twin: Encoder) -> None:
    twin.set_trainable(False)
    assert not twin.trainable and not twin.training
    before = [p.detach().clone() for p in twin.parameters()]
    head = torch.nn.Linear(twin.embed_dim, 1)
    optim = torch.optim.SGD(list(head.parameters()) + list(twin.parameters()), lr=1.0)
    with torch.no_grad():
        tokens = twin(torch.randn(2, 3, twin.image_size, twin.image_size))
    head(tokens).sum().backward()
    optim.step()
    assert all(torch.equal(a, b) for a, b in zip(before, twin.parameters(), strict=True))
    twin.set_trainable(True)
    assert twin.trainable and twin.training
    twin.set_trainable(False)


@pytest.mark.parametrize("spec", [s for s in SPECS if s.loader != "diffusers"],
                         ids=lambda s: s.id)
def test_feature_layer_override_reads_another_block(spec) -> None:
    torch.manual_seed(0)
    second_to_last = build_encoder(spec, tiny=True)
    torch.manual_seed(0)
    other = build_encoder(spec, tiny=True, feature_layer=-3 if spec.feature_layer == -2 else -2)
    pixels = torch.randn(1, 3, other.image_size, other.image_size)
    assert other.spec.feature_layer != second_to_last.spec.feature_layer
    mine, theirs = other(pixels), second_to_last(pixels)
    # A convnet's other stage has another grid or width; a ViT's other block other numbers.
    assert mine.shape != theirs.shape or not torch.allclose(mine, theirs)


def test_resolution_override_changes_the_grid() -> None:
    spec = ENCODERS.get("clip-vit-l14-336.openai")
    encoder = build_encoder(spec, tiny=True, resolution=168)
    assert encoder.image_size == 168 and encoder.grid == (12, 12)
    assert encoder.spec.fingerprint(tiny=True)["resolution"] == 168


def test_precision_is_owned_by_the_wrapper() -> None:
    spec = ENCODERS.get("dinov2-vit-l14-518.lvd142m")
    encoder = build_encoder(spec, tiny=True, precision="bf16")
    assert {p.dtype for p in encoder.parameters()} == {torch.bfloat16}
    tokens = encoder(torch.randn(2, 3, encoder.image_size, encoder.image_size))
    assert tokens.dtype == torch.float32  # back in the caller's dtype
    assert encoder.spec.fingerprint(tiny=True)["precision"] == "bf16"


def test_bad_overrides_name_the_value() -> None:
    spec = ENCODERS.get("clip-vit-l14-336.openai")
    with pytest.raises(HarnessError, match="bad precision 'fp8'; valid: fp32, bf16, fp16"):
        build_encoder(spec, tiny=True, precision="fp8")
    with pytest.raises(HarnessError, match=r"bad output_grid \(0, 4\)"):
        build_encoder(spec, tiny=True, output_grid=(0, 4))
    with pytest.raises(HarnessError, match="a tiny twin has random weights"):
        build_encoder(spec, tiny=True, weights_path="/nowhere")


def test_plain_specs_keep_their_run_key_fields() -> None:
    fp = ENCODERS.get("clip-vit-l14-336.openai").fingerprint(tiny=True)
    assert set(fp) == {"id", "version", "loader", "source", "weights", "feature_layer",
                       "resolution", "tiny"}


def test_missing_optional_package_is_a_one_line_error(monkeypatch) -> None:
    spec = dataclasses.replace(ENCODERS.get("sd21-unet-512.laion5b"), id="sd-missing.x",
                               requires=("no_such_package_here",))
    with pytest.raises(HarnessError) as info:
        build_encoder(spec, tiny=True)
    assert str(info.value) == ("encoder 'sd-missing.x' needs no_such_package_here, which is not"
                               " installed: pip install 'encoder-harness[diffusers]'")


def test_real_weights_missing_offline_is_one_line(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv(WEIGHTS_DIR_ENV, str(tmp_path))
    with pytest.raises(HarnessError) as info:
        build_encoder(ENCODERS.get("mocov3-vit-l16-224.in1k"), tiny=False)
    assert "\n" not in str(info.value)
    assert str(tmp_path / "mocov3-vit-l16-224.in1k") in str(info.value)


def test_unavailable_encoders_are_listed_with_a_note_and_left_out_of_all(monkeypatch) -> None:
    import harness.encoder as encoder_module
    from harness.registry import Registry

    fresh = Registry("encoder", None, name_of=lambda s: s.id, item_type=EncoderSpec)
    fresh.register(ENCODERS.get("clip-vit-l14-336.openai"))
    fresh.register(dataclasses.replace(ENCODERS.get("sd21-unet-512.laion5b"),
                                       requires=("diffusers", "not_installed_pkg")))
    monkeypatch.setattr(encoder_module, "ENCODERS", fresh)
    assert encoder_module.available_encoder_ids() == ["clip-vit-l14-336.openai"]
    assert encoder_module.unavailable_encoders() == {
        "sd21-unet-512.laion5b": "needs not_installed_pkg:"
                                 " pip install 'encoder-harness[diffusers]'"}
