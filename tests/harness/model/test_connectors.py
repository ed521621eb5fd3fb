"""Connectors: shapes for one and many encoders, concat's fixed token count and newlines, and
sva-lite's windowing against a direct, slow reference computation (Cambrian's SVA has its
own numbers: test_sva.py)."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from harness.errors import HarnessError
from harness.model.connector_parts import FeatureShape, resample, to_grid
from harness.model.connectors import CONNECTORS
from harness.model.sva_lite import LiteSVAConnector

CLIP_LIKE = FeatureShape(dim=12, grid=(4, 4))
CONVNEXT_LIKE = FeatureShape(dim=20, grid=(8, 8))


def feats(*shapes: FeatureShape, batch: int = 2) -> list[torch.Tensor]:
    return [torch.randn(batch, s.grid[0] * s.grid[1], s.dim) for s in shapes]


@pytest.mark.parametrize(("name", "shapes", "tokens"), [
    ("mlp2x_gelu", [CLIP_LIKE], 16),
    ("concat", [CLIP_LIKE, CONVNEXT_LIKE], 16),
    ("interleave", [CLIP_LIKE, CONVNEXT_LIKE], 32),
    ("concat(grid=24)", [CLIP_LIKE, CONVNEXT_LIKE], 576),  # Cambrian's Table 2
    ("concat(grid=4,newline=1)", [CLIP_LIKE, CONVNEXT_LIKE], 4 * 5),
    ("sva(grid=4,hidden=16,heads=2)", [CLIP_LIKE, CONVNEXT_LIKE], 4 * 5),
    ("sva(grid=8,hidden=16,heads=2,newline=0)", [CONVNEXT_LIKE], 64),
    ("sva-lite", [CLIP_LIKE, CONVNEXT_LIKE], 16),
    ("sva-lite", [CONVNEXT_LIKE], 64),
])
def test_output_shape(name: str, shapes: list[FeatureShape], tokens: int) -> None:
    connector = CONNECTORS.get(name).create(shapes, llm_dim=8)
    out = connector(feats(*shapes))
    assert out.shape == (2, tokens, 8) == (2, connector.num_tokens, 8)
    assert torch.isfinite(out).all()


def test_encoder_count_is_checked() -> None:
    with pytest.raises(HarnessError, match="connector 'mlp2x_gelu' takes 1 encoder"):
        CONNECTORS.get("mlp2x_gelu").create([CLIP_LIKE, CLIP_LIKE], 8)
    with pytest.raises(HarnessError, match="connector 'interleave' takes 2 encoder"):
        CONNECTORS.get("interleave").create([CLIP_LIKE], 8)


def test_interleave_alternates_the_encoders() -> None:
    connector = CONNECTORS.get("interleave").create([CLIP_LIKE, CLIP_LIKE], 8)
    a, b = feats(CLIP_LIKE, CLIP_LIKE)
    out = connector([a, b])
    assert torch.allclose(out[:, 0::2], connector.projs[0](a))
    assert torch.allclose(out[:, 1::2], connector.projs[1](b))


def test_resample_is_bilinear_on_the_grid() -> None:
    tokens = torch.arange(16.0).reshape(1, 16, 1)  # a 4x4 ramp
    out = resample(tokens, (4, 4), (2, 2))
    expected = F.interpolate(torch.arange(16.0).reshape(1, 1, 4, 4), size=(2, 2),
                             mode="bilinear", align_corners=False)
    assert torch.allclose(to_grid(out, (2, 2)), expected)


def reference_sva(sva: LiteSVAConnector, features: list[torch.Tensor]) -> torch.Tensor:
    """Query by query: gather its window from each encoder by explicit indexing, attend."""
    b = features[0].shape[0]
    L = sva.side
    maps = []
    for f, shape, proj, side in zip(features, sva.shapes, sva.kv_proj, sva.map_sides,
                                    strict=True):
        tokens = proj(resample(f, shape.grid, (side, side)))
        maps.append((to_grid(tokens, (side, side)), side // L))
    context = torch.stack([to_grid_mean(m) for m, _ in maps]).mean(0)
    outputs = []
    for g in range(sva.groups):
        rows = []
        for i in range(L):
            for j in range(L):
                window = torch.cat([
                    m[:, :, i * k:(i + 1) * k, j * k:(j + 1) * k].flatten(2).transpose(1, 2)
                    for m, k in maps], dim=1)  # [B, sum m_k^2, C]
                q = (sva.group_queries[g] + sva.position[i * L + j]).expand(b, 1, -1)
                q = q + sva.context(context).unsqueeze(1)
                for layer in sva.layers:
                    q = reference_layer(layer, q, window)
                rows.append(q)
        outputs.append(torch.cat(rows, dim=1))
    return sva.proj(torch.cat(outputs, dim=-1))


def to_grid_mean(maps: torch.Tensor) -> torch.Tensor:
    return maps.flatten(2).mean(-1)


def reference_layer(layer, q: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    h = layer.heads
    b, _, c = q.shape
    kv = layer.norm_kv(window)
    query = layer.q(layer.norm_q(q)).reshape(b, 1, h, c // h)
    key = layer.k(kv).reshape(b, -1, h, c // h)
    value = layer.v(kv).reshape(b, -1, h, c // h)
    heads = []
    for head in range(h):
        scores = query[:, :, head] @ key[:, :, head].transpose(1, 2) / (c // h) ** 0.5
        heads.append(scores.softmax(-1) @ value[:, :, head])
    q = q + layer.out(torch.cat(heads, dim=-1))
    return q + layer.mlp(layer.norm_mlp(q))


@pytest.mark.parametrize(("shapes", "options"), [
    ([CLIP_LIKE, CONVNEXT_LIKE], {}),                                   # m = 1 and m = 2
    ([CLIP_LIKE, CONVNEXT_LIKE], {"query_side": 2, "groups": 2, "layers": 2}),
    ([FeatureShape(6, (6, 6))], {"query_side": 3}),
])
def test_sva_matches_the_slow_reference(shapes, options) -> None:
    torch.manual_seed(0)
    sva = CONNECTORS.get("sva-lite").create(shapes, llm_dim=16, heads=2, **options).eval()
    features = feats(*shapes)
    assert torch.allclose(sva(features), reference_sva(sva, features), atol=1e-5)


def test_concat_newline_closes_every_row() -> None:
    connector = CONNECTORS.get("concat(grid=4,newline=1)").create([CLIP_LIKE], 8)
    rows = connector(feats(CLIP_LIKE)).reshape(2, 4, 5, 8)
    assert torch.equal(rows[:, :, 4], connector.newline.expand(2, 4, 8))


def test_sva_lite_query_sees_only_its_window() -> None:
    """Changing the far corner of a feature map leaves the opposite corner's token alone."""
    torch.manual_seed(0)
    sva = CONNECTORS.get("sva-lite").create([CONVNEXT_LIKE], llm_dim=8, query_side=4).eval()
    # Remove the global context so the only path between positions is the window.
    with torch.no_grad():
        sva.context.weight.zero_()
        sva.context.bias.zero_()
    (f,) = feats(CONVNEXT_LIKE, batch=1)
    changed = f.clone().reshape(1, 8, 8, -1)
    changed[:, 6:, 6:] += 5.0  # bottom-right 2x2 window = query (3, 3)
    a, b = sva([f]), sva([changed.reshape(1, 64, -1)])
    assert torch.allclose(a[:, 0], b[:, 0])         # query (0, 0) unchanged
    assert not torch.allclose(a[:, 15], b[:, 15])   # query (3, 3) changed
