"""Connector hyperparameters: parsed, checked and named canonically, and the connector built
from a name that carries them has the asked shape."""

from __future__ import annotations

import inspect

import pytest
import torch

from harness.errors import HarnessError
from harness.model.connector_options import merge_args, parse_args, split_name
from harness.model.connector_parts import FeatureShape
from harness.model.connectors import CONNECTORS

CLIP_LIKE = FeatureShape(dim=12, grid=(4, 4))
CONVNEXT_LIKE = FeatureShape(dim=20, grid=(8, 8))


def feats(*shapes: FeatureShape, batch: int = 2) -> list[torch.Tensor]:
    return [torch.randn(batch, s.grid[0] * s.grid[1], s.dim) for s in shapes]


def test_declared_defaults_are_the_builders_defaults() -> None:
    """A default left out of the name must be the value the builder really uses, or two runs
    with different models would share a key."""
    for spec in CONNECTORS:
        build = spec.build
        bound = dict(build.keywords) if hasattr(build, "keywords") else {}
        params = inspect.signature(build.func if bound else build).parameters
        for option in spec.options:
            builder_default = bound.get(option.argument, params[option.argument].default)
            assert builder_default == option.default, (spec.name, option.name)


@pytest.mark.parametrize(("name", "canonical"), [
    ("sva", "sva"),
    ("sva(groups=1,layers=3)", "sva"),  # defaults: the plain name, so the same run key
    ("sva(layers=1,grid=2)", "sva(grid=2,layers=1)"),
    ("sva( grid = 2 )", "sva(grid=2)"),
    ("sva(newline=true,llm_modules=10)", "sva"),
    ("sva(newline=0,llm_modules=0)", "sva(llm_modules=0,newline=0)"),
    ("concat(grid=3x3)", "concat(grid=3)"),
    ("concat(grid=2x4,depth=2,newline=0)", "concat(grid=2x4)"),
    ("sva-lite(groups=1,layers=1,every=0)", "sva-lite"),
    ("sva-lite(every=2)", "sva-lite(every=2)"),
    ("mlp2x_gelu(depth=3)", "mlp2x_gelu(depth=3)"),
])
def test_names_are_canonical(name: str, canonical: str) -> None:
    assert CONNECTORS.get(name).name == canonical
    assert CONNECTORS.get(canonical).name == canonical  # a canonical name reads back as itself


def test_sva_options_shape_the_aggregator() -> None:
    connector = CONNECTORS.get("sva(grid=2,groups=3,layers=2,heads=2,hidden=6,newline=0,"
                               "llm_modules=2,llm_start=1,llm_stride=2)").create(
        [CLIP_LIKE, CONVNEXT_LIKE], llm_dim=8)
    assert connector.side == 2 and connector.num_tokens == 4 and len(connector.samplers) == 3
    assert all(len(s.layers) == 2 for s in connector.samplers)
    assert connector.heads == 2 and connector.hidden == 6 and connector.queries.shape == (3, 6)
    # Each query of the 2x2 grid sees a 2x2 window of the 4x4 map and 4x4 of the 8x8 one.
    assert connector.window_sides(2) == [2, 4]
    assert connector.attach_llm(8) == [1, 3] and len(connector.in_llm) == 2
    assert connector(feats(CLIP_LIKE, CONVNEXT_LIKE)).shape == (2, 4, 8)


def test_sva_lite_options_shape_the_aggregator() -> None:
    connector = CONNECTORS.get("sva-lite(grid=2,groups=3,layers=2,heads=2,hidden=6,depth=3)"
                               ).create(
        [CLIP_LIKE, CONVNEXT_LIKE], llm_dim=8)
    assert connector.side == 2 and connector.num_tokens == 4 and connector.groups == 3
    assert len(connector.layers) == 2 and connector.heads == 2 and connector.hidden == 6
    assert connector.group_queries.shape == (3, 6)
    assert sum(isinstance(m, torch.nn.Linear) for m in connector.proj) == 3
    # Each query of the 2x2 grid sees a 2x2 window of the 4x4 map and 4x4 of the 8x8 one.
    keys, _ = connector.window_keys(feats(CLIP_LIKE, CONVNEXT_LIKE))
    assert keys.shape == (2, 4, 2 * 2 + 4 * 4, 6)
    assert connector(feats(CLIP_LIKE, CONVNEXT_LIKE)).shape == (2, 4, 8)


def test_default_connectors_build_exactly_as_before() -> None:
    """Same modules, same parameter names: saved models of existing runs still load."""
    torch.manual_seed(0)
    plain = CONNECTORS.get("sva-lite").create([CLIP_LIKE, CONVNEXT_LIKE], 8)
    torch.manual_seed(0)
    spelled = CONNECTORS.get("sva-lite(groups=1,layers=1,heads=4,depth=2)").create(
        [CLIP_LIKE, CONVNEXT_LIKE], 8)
    assert plain.state_dict().keys() == spelled.state_dict().keys()
    assert all(torch.equal(a, b) for a, b in zip(plain.state_dict().values(),
                                                  spelled.state_dict().values(), strict=True))
    mlp = CONNECTORS.get("mlp2x_gelu").create([CLIP_LIKE], 8)
    assert list(mlp.state_dict()) == ["proj.0.weight", "proj.0.bias", "proj.2.weight",
                                      "proj.2.bias"]


def test_concat_grid_and_mlp_depth() -> None:
    concat = CONNECTORS.get("concat(grid=2x3,depth=1)").create([CLIP_LIKE, CONVNEXT_LIKE], 8)
    assert concat.num_tokens == 6 and len(concat.proj) == 1
    assert concat(feats(CLIP_LIKE, CONVNEXT_LIKE)).shape == (2, 6, 8)
    deep = CONNECTORS.get("interleave(depth=4)").create([CLIP_LIKE, CONVNEXT_LIKE], 8)
    assert all(len(p) == 7 for p in deep.projs)  # 4 linear layers, 3 GELUs between


def test_sva_lite_layers_follow_start_and_every() -> None:
    connector = CONNECTORS.get("sva-lite(every=2,start=1)").create([CLIP_LIKE], 8)
    assert connector.attach_llm(6) == [1, 3, 5]
    assert CONNECTORS.get("sva-lite(every=3)").create([CLIP_LIKE], 8).attach_llm(7) == [0, 3, 6]
    assert CONNECTORS.get("sva-lite").create([CLIP_LIKE], 8).attach_llm(7) == []
    late = CONNECTORS.get("sva-lite(every=3,start=6)").create([CLIP_LIKE], 8)
    with pytest.raises(HarnessError, match=r"start=6 is past the LLM's last layer \(6 layers"):
        late.attach_llm(6)


@pytest.mark.parametrize(("name", "message"), [
    ("sva(grdi=2)", "connector 'sva' has no option 'grdi'; valid: grid, groups, heads, hidden,"
     " layers, llm_modules, llm_start, llm_stride, newline"),
    ("sva(every=2)", "connector 'sva' has no option 'every'; valid: "),
    ("mlp2x_gelu(grid=2)", "connector 'mlp2x_gelu' has no option 'grid'; valid: depth"),
    ("sva(groups=0)", "connector 'sva': bad groups='0'; expected an integer >= 1"),
    ("sva(layers=two)", "connector 'sva': bad layers='two'; expected an integer >= 1"),
    ("sva(grid=2x3)", "connector 'sva': bad grid='2x3'; expected an integer >= 1"),
    ("concat(grid=2x)", "connector 'concat': bad grid='2x'; expected a grid side like 12"),
    ("sva-lite(start=-1)", "connector 'sva-lite': bad start='-1'; expected an integer >= 0"),
    ("sva(newline=2)", "connector 'sva': bad newline='2'; expected 1 or 0"),
    ("sva-llm(every=3)", "'sva-llm' is retired: 'sva' is now Cambrian's SVA"),
    ("sva(grid)", "bad connector option 'grid' in 'sva(grid)'; write key=value pairs"),
    ("sva(grid=2,grid=3)", "connector option 'grid' given twice in 'sva(grid=2,grid=3)'"),
    ("qformer(depth=2)", "unknown connector 'qformer'; valid: concat, interleave,"),
    ("sva(grid=2", "bad connector 'sva(grid=2'; write a name"),
])
def test_bad_options_are_one_line_errors(name: str, message: str) -> None:
    with pytest.raises(HarnessError) as caught:
        CONNECTORS.get(name)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_args_text_and_merging() -> None:
    assert parse_args("grid=12, layers=3,") == {"grid": "12", "layers": "3"}
    assert parse_args({"grid": 12, "concat_grid": [2, 3]}) == {"grid": "12",
                                                               "concat_grid": "2x3"}
    assert split_name("sva") == ("sva", {})
    assert merge_args("sva(grid=2)", {"layers": "3"}) == "sva(grid=2,layers=3)"
    assert merge_args("sva(grid=2)", {"grid": "2"}) == "sva(grid=2)"
    with pytest.raises(HarnessError, match="option 'grid' is given twice: grid=2 in"):
        merge_args("sva(grid=2)", {"grid": "3"})
