"""Run keys are the hash of the resolved config; planning twice schedules nothing new."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from harness.config import identity, stable_hash
from harness.encoder import ENCODERS as ENCODER_REGISTRY
from harness.errors import HarnessError
from harness.eval.benchmarks import BENCHMARKS
from harness.model.llm import resolve_llm
from harness.preset import PRESETS
from harness.recipe import RECIPES
from harness.sweep.plan import load_run, plan_sweep, run_state, write_config

ENCODERS = ["clip-vit-l14-336.openai", "dinov2-vit-l14-518.lvd142m"]


def plan(root: Path, seeds=(0,), recipes=("frozen", "unfrozen"), preset=None):
    preset = preset or PRESETS.get("smoke")
    return plan_sweep(ENCODERS, [RECIPES.get(r) for r in recipes], preset, list(seeds), root)


def test_one_run_per_encoder_recipe_seed(tmp_path: Path) -> None:
    runs = plan(tmp_path, seeds=(0, 1))
    assert len(runs) == 2 * 2 * 2
    assert len({r.key for r in runs}) == len(runs)
    assert all(r.state == "new" and r.tiny for r in runs)


def test_keys_are_stable_and_follow_the_config(tmp_path: Path) -> None:
    first = {r.key for r in plan(tmp_path)}
    assert {r.key for r in plan(tmp_path / "elsewhere")} == first  # not tied to the folder
    smoke = PRESETS.get("smoke")
    more_data = dataclasses.replace(smoke, data=dataclasses.replace(smoke.data, n_train=7))
    assert {r.key for r in plan(tmp_path, preset=more_data)}.isdisjoint(first)
    # How a run executes (batch split, eval batch) does not change what it measures.
    other_batch = dataclasses.replace(smoke, micro_batch=4, eval_batch=3)
    assert {r.key for r in plan(tmp_path, preset=other_batch)} == first


def test_recipe_changes_give_new_keys(tmp_path: Path) -> None:
    frozen = RECIPES.get("frozen")
    bumped = dataclasses.replace(frozen, version=frozen.version + 1)
    smoke = PRESETS.get("smoke")
    a = plan_sweep(ENCODERS[:1], [frozen], smoke, [0], tmp_path)[0]
    b = plan_sweep(ENCODERS[:1], [bumped], smoke, [0], tmp_path)[0]
    assert a.key != b.key


def test_state_comes_from_the_run_folder(tmp_path: Path) -> None:
    runs = plan(tmp_path)
    done, failed = Path(runs[0].run_dir), Path(runs[1].run_dir)
    done.mkdir(parents=True)
    (done / "record.json").write_text(json.dumps({"status": "done"}))
    failed.mkdir(parents=True)
    (failed / "record.json").write_text(json.dumps({"status": "failed"}))
    states = [r.state for r in plan(tmp_path)]
    assert states[:2] == ["done", "failed"] and set(states[2:]) == {"new"}
    (failed / "record.json").write_text("{torn")
    assert run_state(failed) == "failed"


def test_preset_shrinks_the_recipe(tmp_path: Path) -> None:
    run = plan(tmp_path, recipes=("unfrozen",))[0]
    smoke = PRESETS.get("smoke")
    recipe = run.config.recipe
    assert recipe.stage("align").global_batch == smoke.stages["align"]["global_batch"]
    assert recipe.encoder_lr == smoke.recipe["encoder_lr"]
    frozen = plan(tmp_path, recipes=("frozen",))[0].config.recipe
    assert frozen.encoder_lr is None  # a frozen encoder has no learning rate to set


# -- combinations of encoders -----------------------------------------------------------------
SIGLIP, DINO, CLIP224 = ("siglip-vit-so400m14-384.webli", "dinov2-vit-l14-518.lvd142m",
                         "clip-vit-l14-224.openai")


def test_single_encoder_keys_keep_their_old_layout(tmp_path: Path) -> None:
    """A single-encoder run's key is the hash of the config as it always was (encoder = the
    spec's fingerprint, no field added for combinations), whatever else a sweep plans."""
    smoke = PRESETS.get("smoke")
    frozen = RECIPES.get("frozen")
    runs = plan_sweep([CLIP224, f"{SIGLIP}+{DINO}"], [frozen], smoke, [0], tmp_path)
    single = runs[0]
    old_layout = {
        "encoder": ENCODER_REGISTRY.get(CLIP224).fingerprint(tiny=True),
        # Fields added since (the LLM's revision) stay out of the key while unset.
        "recipe": frozen.shrunk(smoke.stages, smoke.recipe),
        "llm": identity(resolve_llm(smoke.llm)),
        "connector": "mlp2x_gelu", "data": smoke.data, "seed": 0,
        "benchmarks": tuple(BENCHMARKS.get(b).fingerprint() for b in smoke.benchmarks),
    }
    assert single.key == stable_hash(old_layout)
    assert single.encoder_ids == [CLIP224] and single.config.connector == "mlp2x_gelu"
    alone = plan_sweep([CLIP224], [frozen], smoke, [0], tmp_path)[0]
    assert alone.key == single.key
    explicit = plan_sweep([CLIP224], [frozen], smoke, [0], tmp_path, connector="mlp2x_gelu")
    assert explicit[0].key == single.key


def full_size_smoke():
    """The smoke preset without its tiny sva options: connector names as the user gives."""
    return dataclasses.replace(PRESETS.get("smoke"), connector_defaults={})


def test_plus_joins_encoders_into_one_run(tmp_path: Path) -> None:
    smoke = full_size_smoke()
    runs = plan_sweep([f"{SIGLIP}+{DINO}", CLIP224], [RECIPES.get("frozen")], smoke, [0, 1],
                      tmp_path)
    assert len(runs) == 2 * 2
    combo = runs[0]
    assert combo.encoder_id == f"{SIGLIP}+{DINO}" and combo.encoder_ids == [SIGLIP, DINO]
    assert combo.config.connector == "sva"  # Cambrian's connector unless asked otherwise
    assert combo.config.encoder == {
        "id": f"{SIGLIP}+{DINO}",
        "parts": [ENCODER_REGISTRY.get(e).fingerprint(tiny=True) for e in (SIGLIP, DINO)]}
    assert f"{SIGLIP} + {DINO} (tiny twin) / sva / frozen / seed 0" == combo.label
    assert combo.summary()["encoders"] == [SIGLIP, DINO]
    assert len({r.key for r in runs}) == 4
    # The connector, the members and their order are all part of what a run measures.
    concat = plan_sweep([f"{SIGLIP}+{DINO}"], [RECIPES.get("frozen")], smoke, [0], tmp_path,
                        connector="concat")[0]
    swapped = plan_sweep([f"{DINO}+{SIGLIP}"], [RECIPES.get("frozen")], smoke, [0],
                         tmp_path)[0]
    assert len({combo.key, concat.key, swapped.key}) == 3
    assert plan_sweep([f"{SIGLIP} + {DINO}"], [RECIPES.get("frozen")], smoke, [0],
                      tmp_path)[0].key == combo.key  # spaces around '+' do not matter


def test_a_planned_combination_reloads_from_its_folder(tmp_path: Path) -> None:
    run = plan_sweep([f"{SIGLIP}+{DINO}"], [RECIPES.get("unfrozen")], PRESETS.get("smoke"),
                     [0], tmp_path, connector="interleave")[0]
    write_config(run)
    again = load_run(Path(run.run_dir))
    assert again == run and again.config.key == run.key


@pytest.mark.parametrize(("entries", "connector", "message"), [
    ([f"{SIGLIP}+{DINO}"], "mlp2x_gelu",
     f"connector 'mlp2x_gelu' takes exactly 1 encoder(s), but '{SIGLIP}+{DINO}' has 2;"
     " valid for 2 encoder(s): concat, interleave, sva, sva-lite"),
    ([f"{SIGLIP}+{DINO}+{CLIP224}"], "interleave",
     "connector 'interleave' takes exactly 2 encoder(s), but"),
    ([CLIP224], "interleave",
     f"connector 'interleave' takes exactly 2 encoder(s), but '{CLIP224}' has 1; valid for 1"
     " encoder(s): concat, mlp2x_gelu, sva, sva-lite"),
    ([f"{SIGLIP}+dino-nope"], None, f"unknown encoder 'dino-nope' in '{SIGLIP}+dino-nope';"
     " valid: all, "),
    ([f"{SIGLIP}+{SIGLIP}"], None, f"encoder '{SIGLIP}' appears twice in"),
    ([f"all+{SIGLIP}"], None, "'all' cannot be combined"),
    ([CLIP224], "qformer", "unknown connector 'qformer'; valid: "),
])
def test_bad_combinations_are_one_line_errors(tmp_path: Path, entries, connector,
                                             message) -> None:
    with pytest.raises(HarnessError) as caught:
        plan_sweep(entries, [RECIPES.get("frozen")], PRESETS.get("smoke"), [0], tmp_path,
                   connector=connector)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)
    assert not (tmp_path / "runs").exists()


def test_connector_args_enter_the_key_but_defaults_do_not(tmp_path: Path) -> None:
    smoke, frozen = full_size_smoke(), RECIPES.get("frozen")
    pair = f"{SIGLIP}+{DINO}"
    default = plan_sweep([CLIP224, pair], [frozen], smoke, [0], tmp_path)
    # Every option at its default: the plain names, so existing run folders stay valid.
    spelled = plan_sweep([pair], [frozen], smoke, [0], tmp_path,
                         connector_args="groups=1,layers=3")[0]
    assert spelled.config.connector == "sva" and spelled.key == default[1].key
    single = plan_sweep([CLIP224], [frozen], smoke, [0], tmp_path, connector_args="depth=2")[0]
    assert single.config.connector == "mlp2x_gelu" and single.key == default[0].key
    # Set away from the defaults: a different connector name, so a different run.
    tuned = plan_sweep([pair], [frozen], smoke, [0], tmp_path, connector="sva",
                       connector_args="layers=2,grid=2,groups=2")[0]
    assert tuned.config.connector == "sva(grid=2,groups=2,layers=2)"
    assert tuned.key not in {r.key for r in default}
    assert tuned.summary()["connector"] == "sva(grid=2,groups=2,layers=2)"
    # The same choice, however written, is the same run.
    for connector, args in (("sva(grid=2,groups=2,layers=2)", None),
                            ("sva(layers=2)", {"grid": 2, "groups": 2})):
        again = plan_sweep([pair], [frozen], smoke, [0], tmp_path, connector=connector,
                           connector_args=args)[0]
        assert again.key == tuned.key


def test_a_run_with_connector_args_reloads_and_builds_its_connector(tmp_path: Path) -> None:
    from harness.model.connector_parts import FeatureShape
    from harness.model.connectors import CONNECTORS

    run = plan_sweep([f"{SIGLIP}+{DINO}"], [RECIPES.get("frozen")], PRESETS.get("smoke"), [0],
                     tmp_path, connector_args="grid=2,layers=2")[0]
    write_config(run)
    again = load_run(Path(run.run_dir))
    assert again == run and again.config.key == run.key and again.config.connector_version == 2
    # What the job's model builder does with the reloaded config.
    connector = CONNECTORS.get(again.config.connector).create(
        [FeatureShape(4, (4, 4)), FeatureShape(4, (8, 8))], 8)
    assert connector.side == 2 and len(connector.samplers[0].layers) == 2


def test_a_preset_shrinks_a_connector_unless_the_run_names_the_option(tmp_path: Path) -> None:
    frozen, pair = RECIPES.get("frozen"), f"{SIGLIP}+{DINO}"
    smoke = PRESETS.get("smoke")
    assert smoke.connector_defaults["sva"]["hidden"] == 64
    [run] = plan_sweep([pair], [frozen], smoke, [0], tmp_path)
    assert run.config.connector == "sva(grid=4,heads=4,hidden=64,layers=1)"
    [run] = plan_sweep([pair], [frozen], smoke, [0], tmp_path, connector="sva(grid=2)",
                       connector_args="layers=2")
    assert run.config.connector == "sva(grid=2,heads=4,hidden=64,layers=2)"
    [run] = plan_sweep([pair], [frozen], smoke, [0], tmp_path, connector="concat")
    assert run.config.connector == "concat"  # other connectors' defaults do not apply


@pytest.mark.parametrize(("entries", "connector", "args", "message"), [
    ([f"{SIGLIP}+{DINO}"], "sva", "grdi=12",
     "connector 'sva' has no option 'grdi'; valid: grid, groups, heads, hidden, layers,"
     " llm_modules"),
    ([f"{SIGLIP}+{DINO}"], None, "groups=zero",
     "connector 'sva': bad groups='zero'; expected an integer >= 1"),
    ([CLIP224], None, "grid=12",
     f"connector 'mlp2x_gelu' has no option 'grid'; valid: depth ('mlp2x_gelu' is the default"
     f" connector for '{CLIP224}'; name one with --connector)"),
    ([f"{SIGLIP}+{DINO}"], "sva(grid=2)", "grid=3",
     "connector option 'grid' is given twice: grid=2 in 'sva(grid=2)' and grid=3 in"),
    ([f"{SIGLIP}+{DINO}"], "sva", "layers", "bad connector option 'layers' in"),
])
def test_bad_connector_args_are_one_line_errors(tmp_path: Path, entries, connector, args,
                                               message) -> None:
    with pytest.raises(HarnessError) as caught:
        plan_sweep(entries, [RECIPES.get("frozen")], PRESETS.get("smoke"), [0], tmp_path,
                   connector=connector, connector_args=args)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)
    assert not (tmp_path / "runs").exists()


def test_a_preset_can_name_the_connector_and_its_options(tmp_path: Path) -> None:
    frozen, pair = RECIPES.get("frozen"), f"{SIGLIP}+{DINO}"
    preset = dataclasses.replace(full_size_smoke(), connector="sva",
                                 connector_args={"grid": 2, "layers": 1})
    [run] = plan_sweep([pair], [frozen], preset, [0], tmp_path)
    assert run.config.connector == "sva(grid=2,layers=1)"
    # The command line's options win over the preset's, key by key.
    [run] = plan_sweep([pair], [frozen], preset, [0], tmp_path, connector_args="layers=2")
    assert run.config.connector == "sva(grid=2,layers=2)"
    # A connector named on the command line replaces the preset's, options and all.
    [run] = plan_sweep([pair], [frozen], preset, [0], tmp_path, connector="concat")
    assert run.config.connector == "concat"
    bad = dataclasses.replace(preset, connector_args={"grdi": 2})
    with pytest.raises(HarnessError, match="connector 'sva' has no option 'grdi'"):
        plan_sweep([pair], [frozen], bad, [0], tmp_path)


def test_a_preset_file_carries_connector_options(tmp_path: Path) -> None:
    from harness.preset import load_preset_file

    path = tmp_path / "sva-study.toml"
    text = (Path(__file__).parents[3] / "recipes" / "presets" / "smoke.toml").read_text()
    path.write_text(text.replace('name = "smoke"', 'name = "sva-study"\nconnector = "sva"')
                    + '\n[connector_args]\ngrid = 2\ngroups = 2\n')
    preset = load_preset_file(path)
    [run] = plan_sweep([f"{SIGLIP}+{DINO}"], [RECIPES.get("frozen")], preset, [0], tmp_path)
    assert run.config.connector == "sva(grid=2,groups=2,heads=4,hidden=64,layers=1)"


def test_a_run_of_the_earlier_sva_rebuilds_with_sva_lite(tmp_path: Path) -> None:
    from harness.model.connector_options import current_name
    from harness.model.sva_lite import LiteSVAConnector
    from harness.sweep.model import build_model

    assert current_name("sva-llm(every=2,start=1)", 1) == "sva-lite(every=2,start=1)"
    assert current_name("sva-llm", 1) == "sva-lite(every=3)"
    assert current_name("sva(grid=4)", 2) == "sva(grid=4)"
    [run] = plan_sweep([f"{SIGLIP}+{DINO}"], [RECIPES.get("frozen")], full_size_smoke(), [0],
                       tmp_path, connector="sva-lite(grid=4)")
    # As an earlier version planned it: connector "sva", no version in the config.
    legacy = dataclasses.replace(run, config=dataclasses.replace(
        run.config, connector="sva(grid=4)", connector_version=1))
    model, _ = build_model(legacy, ["a red circle"])
    assert isinstance(model.connector, LiteSVAConnector) and model.connector.side == 4


def test_the_same_run_asked_twice_is_planned_once(tmp_path: Path) -> None:
    smoke, frozen = PRESETS.get("smoke"), RECIPES.get("frozen")
    runs = plan_sweep([CLIP224, CLIP224, SIGLIP], [frozen, frozen], smoke, [0, 0, 1, 0],
                      tmp_path)
    assert len(runs) == len({r.key for r in runs}) == 4
    assert [(r.encoder_id, r.config.seed) for r in runs] == [
        (CLIP224, 0), (CLIP224, 1), (SIGLIP, 0), (SIGLIP, 1)]
