"""Planning: a sweep (encoders x recipes x seeds under a preset) becomes runs whose identity is
the hash of their fully resolved config, so planning twice schedules nothing new.

An encoder entry may combine encoders with ``+`` (``siglip-...webli+dinov2-...lvd142m``): one
run whose MLLM holds them all, their tokens joined by a multi-encoder connector. Connector
hyperparameters (``connector_args``) become part of the connector's name, ``sva(grid=12)``,
and so of the run key; at their defaults the name, and the key, are what they always were.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness.combination import COMBINE, combined_id, member_ids, spelled_out
from harness.config import KEPT_OUT_AT_DEFAULT, from_mapping, identity, stable_hash, to_plain
from harness.data.aspect import DEFAULT_ASPECT, ImageAspect
from harness.data.probes import PROBE_BENCHMARKS, check_kinds
from harness.data.sources import PROBE, SUBSAMPLE_SEED, check_samples, resolve_source
from harness.encoder import ENCODERS
from harness.errors import HarnessError
from harness.eval.benchmarks import BENCHMARKS
from harness.eval.categories import suites
from harness.loaders.availability import encoder_weights_problem, llm_weights_problem
from harness.model.connector_options import merge_args, parse_args, split_name
from harness.model.connectors import CONNECTORS
from harness.model.llm import LLMSpec, resolve_llm
from harness.preset import DataLoading, Preset, ProbeData
from harness.recipe import Recipe
from harness.record import RECORD_FILE
from harness.sweep.data_check import DataChecks
from harness.sweep.sizes import check_shardable

RunState = Literal["new", "done", "failed"]
SINGLE_CONNECTOR = "mlp2x_gelu"
MULTI_CONNECTOR = "sva"
"""The connector a combination gets when none is asked for (Cambrian-1's)."""


def split_combination(entry: str) -> list[str]:
    """The registered encoder ids of a sweep entry: one id, or several joined by ``+``."""
    parts = [p.strip() for p in entry.split(COMBINE)]
    for part in parts:
        if part == "all":
            raise HarnessError(f"'all' cannot be combined in {entry!r}; --encoders all runs"
                               " every encoder on its own")
        if part not in ENCODERS:
            where = f" in {entry!r}" if len(parts) > 1 else ""
            raise ENCODERS.unknown(part, where=where, also_valid=("all",))
    repeated = sorted({p for p in parts if parts.count(p) > 1})
    if repeated:
        raise HarnessError(f"encoder {repeated[0]!r} appears twice in {entry!r}; combine"
                           " different encoders")
    return parts


def connectors_for(count: int) -> list[str]:
    """The connectors that take ``count`` encoders."""
    return [c.name for c in CONNECTORS if c.encoders[0] <= count
            and (c.encoders[1] is None or count <= c.encoders[1])]


def choose_connector(connector: str | None, entry: str, count: int) -> str:
    """The asked connector if it takes ``count`` encoders (else a one-line error naming those
    that do), or the default: LLaVA's MLP for one encoder, SVA for a combination."""
    if connector is None:
        return SINGLE_CONNECTOR if count == 1 else MULTI_CONNECTOR
    spec = CONNECTORS.get(connector)
    low, high = spec.encoders
    if count < low or (high is not None and count > high):
        takes = f"exactly {low}" if low == high else f"at least {low}" if high is None else \
            f"{low} to {high}"
        raise HarnessError(
            f"connector {connector!r} takes {takes} encoder(s), but {entry!r} has {count};"
            f" valid for {count} encoder(s): {', '.join(connectors_for(count))}")
    return connector


def resolve_connector(connector: str | None, args: Mapping[str, str], entry: str,
                      count: int, defaults: Mapping[str, Mapping[str, Any]] | None = None
                      ) -> str:
    """The canonical name (options included) of the connector an entry of ``count`` encoders
    gets: the asked one (``sva`` or ``sva(grid=12)``) or the default, with ``args`` set, and
    ``defaults[connector]`` (a preset's) for the options neither sets."""
    chosen = choose_connector(connector, entry, count)
    base, given = split_name(chosen)
    preset = parse_args((defaults or {}).get(base), where=f"connector_defaults.{base}")
    extra = {k: v for k, v in preset.items() if k not in given and k not in args}
    try:
        return CONNECTORS.get(merge_args(chosen, {**extra, **args})).name
    except HarnessError as exc:
        if connector is None and args:
            raise HarnessError(f"{exc} ({chosen!r} is the default connector for {entry!r};"
                               " name one with --connector)") from None
        raise


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides a run's numbers, and nothing that does not."""

    encoder: dict[str, Any]
    recipe: Recipe
    llm: LLMSpec
    connector: str
    data: ProbeData | None
    """The probes' kinds and size, for a run trained on the probes."""
    seed: int
    benchmarks: tuple[dict[str, str], ...]
    sources: dict[str, dict[str, Any]] = field(
        default_factory=dict, metadata={KEPT_OUT_AT_DEFAULT: True})
    """Per stage, the training source's fingerprint: name, annotation hash, subsample."""
    image_aspect: ImageAspect = field(default=DEFAULT_ASPECT,
                                      metadata={KEPT_OUT_AT_DEFAULT: True})
    """How non-square images become square (``harness.data.aspect``)."""
    connector_version: int = field(default=1, metadata={KEPT_OUT_AT_DEFAULT: True})
    """The connector implementation's version (``ConnectorSpec.version``): a run of ``sva``
    before it became Cambrian's module has another key than one after."""

    @property
    def key(self) -> str:
        return stable_hash(identity(self))


@dataclass(frozen=True)
class Run:
    """A planned run: its config plus how and where to run it (not part of its identity)."""

    key: str
    config: RunConfig
    encoder_id: str
    tiny: bool
    preset: str
    micro_batch: int
    eval_batch: int
    data_dir: str
    run_dir: str
    state: RunState
    feature_cache: str = ""
    """Folder of the frozen-encoder feature cache (``harness.data.feature_cache``); empty:
    off. Not part of the key: cached features are the ones the encoder would compute."""
    save_model: str = "trainable"
    """What of the finished model the job keeps in ``run_dir/model/`` (see the preset's)."""
    gradient_checkpointing: bool = False
    """Recompute LLM activations in backward (the preset's switch; same numbers, less memory)."""
    blind_eval: bool = False
    """Score each benchmark a second time with no image (the preset's switch)."""
    scale: str = "full"
    """The preset's claim about its results: ``full``, or ``cpu`` (real weights at CPU scale)."""
    data_root: str = ""
    """Where the training sources and benchmarks lie (``DIR/<name>/``); empty for the probe."""
    sources: dict[str, str] = field(default_factory=dict)
    """Per stage, the source as the preset names it (a registered name or a TOML file)."""
    dataset_hashes: dict[str, str] = field(default_factory=dict)
    """Each benchmark's dataset revision as the plan found it (shown by ``--dry-run``)."""
    data_loading: DataLoading = field(default_factory=DataLoading)
    """DataLoader workers and pinned memory (the preset's, or the cluster profile's)."""
    distributed: str = "auto"
    """``ddp``, ``fsdp`` or ``auto`` (the preset's, or the cluster profile's; the sweep's
    memory plan turns ``auto`` into one of the others where the GPU is known, the job into
    ``ddp`` where it is not; ``harness.parallel``)."""

    @property
    def encoder_ids(self) -> list[str]:
        """The encoders this run's MLLM holds (several for a combination)."""
        return member_ids(self.encoder_id)

    @property
    def label(self) -> str:
        twin = " (tiny twin)" if self.tiny else ""
        connector = f" / {self.config.connector}" if len(self.encoder_ids) > 1 else ""
        return (f"{spelled_out(self.encoder_id)}{twin}{connector} /"
                f" {self.config.recipe.name} / seed {self.config.seed}")

    def summary(self) -> dict[str, Any]:
        return {"key": self.key, "encoder": self.encoder_id, "encoders": self.encoder_ids,
                "connector": self.config.connector, "tiny": self.tiny,
                "recipe": self.config.recipe.name, "seed": self.config.seed,
                "preset": self.preset, "state": self.state, "run_dir": self.run_dir,
                "distributed": self.distributed,
                "sources": self.config.sources or {"all stages": {"name": PROBE}},
                "benchmarks": [{**b, "dataset_hash": self.dataset_hashes.get(b["name"], "")}
                               for b in self.config.benchmarks]}


def data_dir_for(root: Path, data: ProbeData | None) -> Path | None:
    """The folder the run's probes are generated in (None for a run on other data)."""
    return None if data is None else root / "data" / f"probe-{stable_hash(data)}"


def check_probes(preset: Preset, names: Sequence[str]) -> None:
    """The probes a preset scores are ones it generates, and what they are drawn from is
    there (Fashion-MNIST for ``objects``): one-line errors at plan time."""
    for name in names:
        kind = PROBE_BENCHMARKS.get(name)
        if kind is None:
            continue
        if preset.data is None:
            raise HarnessError(f"preset {preset.name!r} scores {name!r} but trains on "
                               "[sources]: a probe's test set exists only with [data]")
        if kind.name not in preset.data.kinds:
            raise HarnessError(f"preset {preset.name!r} scores {name!r} but [data] kinds ="
                               f" {list(preset.data.kinds)} does not generate it; add"
                               f" {kind.name!r} to [data] kinds")
    if preset.data is not None:
        check_kinds(preset.data.kinds)


def benchmark_names(names: Sequence[str]) -> list[str]:
    """Benchmark names with suites (``table5``, ``vision-centric``, ``probe``) expanded, in
    order, each once; an unknown name is a one-line error naming the valid ones."""
    named = suites()
    out: list[str] = []
    for name in names:
        if name in named:
            out += named[name]
        elif name in BENCHMARKS:
            out.append(name)
        else:
            raise HarnessError(f"unknown benchmark or suite {name!r}; valid: "
                               f"{', '.join([*named, *BENCHMARKS.names()])}")
    return list(dict.fromkeys(out))


def check_weights(encoder_ids: Sequence[str], tiny: bool, llm: LLMSpec) -> None:
    """Every encoder's and the LLM's weights can be had where the jobs run (with
    ``HF_HUB_OFFLINE=1``: they are in the cache), or a one-line error says which and how."""
    for encoder_id in dict.fromkeys(encoder_ids):
        problem = encoder_weights_problem(ENCODERS.get(encoder_id), tiny)
        if problem is not None:
            raise HarnessError(problem)
    problem = llm_weights_problem(llm.source, llm.revision)
    if problem is not None:
        raise HarnessError(problem)


def source_fingerprints(preset: Preset, recipe: Recipe, checks: DataChecks
                        ) -> dict[str, dict[str, Any]]:
    """Per stage of ``recipe``, the fingerprint of the preset's source for it: empty for the
    probe. A stage asking for more samples than its source has is refused here."""
    out: dict[str, dict[str, Any]] = {}
    for stage in recipe.stages:
        named = preset.sources.get(stage.name)
        if named is None:
            if preset.sources:
                raise HarnessError(f"preset {preset.name!r} names no source for stage "
                                   f"{stage.name!r} of recipe {recipe.name!r}; add it to "
                                   "[sources]")
            continue
        source = resolve_source(named)
        facts = checks.source(source)
        samples = None if stage.samples in (None, "all") else int(stage.samples)
        check_samples(samples, facts.entries, source.name,
                      f"recipe {recipe.name!r} stage {stage.name!r}")
        out[stage.name] = {"name": source.name, "annotation_hash": facts.annotation_hash,
                           "samples": "all" if samples is None else samples,
                           "subsample_seed": SUBSAMPLE_SEED}
    return out


def run_state(run_dir: Path) -> RunState:
    """What the run folder says: its record is the source of truth, not the database."""
    record = run_dir / RECORD_FILE
    if not record.exists():
        return "new"
    try:
        return "done" if json.loads(record.read_text()).get("status") == "done" else "failed"
    except (OSError, ValueError):
        return "failed"


def encoder_fingerprint(parts: list[str], tiny: bool) -> dict[str, Any]:
    """One encoder's fingerprint as it always was (so single-encoder keys never change); a
    combination's is its id and every member's fingerprint, in order."""
    prints = [ENCODERS.get(p).fingerprint(tiny=tiny) for p in parts]
    if len(prints) == 1:
        return prints[0]
    return {"id": combined_id(parts), "parts": prints}


def plan_sweep(encoder_ids: list[str], recipes: list[Recipe], preset: Preset,
               seeds: list[int], root: Path, *, connector: str | None = None,
               connector_args: str | Mapping[str, object] | None = None,
               data_root: Path | None = None,
               data_loading: DataLoading | None = None,
               distributed: str | None = None) -> list[Run]:
    """One run per encoder entry x recipe x seed. An entry ``a+b`` is one run on both
    encoders; ``connector`` (default: ``mlp2x_gelu`` for one encoder, ``sva`` for several)
    must take as many encoders as each entry has. ``connector_args`` (``grid=12,layers=3``
    or a mapping) sets the connector's hyperparameters for every entry. Both default to the
    preset's own; a ``connector`` given here replaces the preset's with its options."""
    llm = resolve_llm(preset.llm)
    if preset.system_prompt is not None:
        llm = dataclasses.replace(llm, system_prompt=preset.system_prompt)
    args = parse_args(connector_args)
    if connector is None:
        connector = preset.connector
        # The command line's options win over the preset's.
        args = {**parse_args(preset.connector_args, where=f"preset {preset.name!r}"), **args}
    if connector is not None:
        CONNECTORS.get(connector)
    entries = [(entry, split_combination(entry)) for entry in encoder_ids]
    check_weights([p for _, parts in entries for p in parts], preset.tiny_encoders, llm)
    chosen = {entry: resolve_connector(connector, args, entry, len(parts),
                                       preset.connector_defaults)
              for entry, parts in entries}
    distributed = distributed or preset.distributed
    if distributed == "fsdp":

        for name in dict.fromkeys(chosen.values()):
            check_shardable(name, llm)
    names = benchmark_names(preset.benchmarks)
    check_probes(preset, names)
    benchmarks = tuple(BENCHMARKS.get(b).fingerprint() for b in names)
    # Each source and benchmark is checked once here, before anything is trained.
    checks = DataChecks(data_root, root / "cache")
    hashes = {b: checks.benchmark(BENCHMARKS.get(b)).dataset_hash
              for b in names if b not in PROBE_BENCHMARKS}
    data_dir = data_dir_for(root, preset.data)
    shrunk_recipes = [recipe.shrunk(preset.stages, preset.recipe) for recipe in recipes]
    fingerprints = {r.name: source_fingerprints(preset, r, checks) for r in shrunk_recipes}
    checks.save()
    runs = []
    for entry, parts in entries:
        encoder_id = combined_id(parts)
        fingerprint = encoder_fingerprint(parts, preset.tiny_encoders)
        for shrunk in shrunk_recipes:
            for seed in seeds:
                config = RunConfig(
                    encoder=fingerprint, recipe=shrunk, llm=llm, connector=chosen[entry],
                    data=preset.data, seed=seed, benchmarks=benchmarks,
                    sources=fingerprints[shrunk.name], image_aspect=preset.image_aspect,
                    connector_version=CONNECTORS.get(chosen[entry]).version,
                )
                run_dir = root / "runs" / config.key
                runs.append(Run(
                    key=config.key, config=config, encoder_id=encoder_id,
                    tiny=preset.tiny_encoders, preset=preset.name,
                    micro_batch=preset.micro_batch, eval_batch=preset.eval_batch,
                    data_dir="" if data_dir is None else str(data_dir), run_dir=str(run_dir),
                    state=run_state(run_dir),
                    feature_cache=str(root / "cache" / "features") if preset.feature_cache
                    else "",
                    save_model=preset.save_model,
                    gradient_checkpointing=preset.gradient_checkpointing,
                    blind_eval=preset.blind_eval, scale=preset.scale,
                    data_root="" if data_root is None else str(data_root),
                    sources=dict(preset.sources), dataset_hashes=hashes,
                    data_loading=data_loading or preset.data_loading,
                    distributed=distributed,
                ))
    # One key is one run: a seed, encoder or recipe given twice (--seeds 0,0) must not run
    # the same folder twice at once.
    unique: dict[str, Run] = {}
    for run in runs:
        unique.setdefault(run.key, run)
    return list(unique.values())


RUN_FILE = "run.json"


def write_config(run: Run) -> None:
    """``config.json`` (what the run measures) and ``run.json`` (how it runs), so that any
    process (``harness status``, ``harness cancel``, a new driver) can rebuild the run."""
    folder = Path(run.run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"key": run.key, **identity(run.config)},
                                                   indent=2, sort_keys=True))
    how = {k: v for k, v in to_plain(run).items() if k not in ("config", "state")}
    (folder / RUN_FILE).write_text(json.dumps(how, indent=2, sort_keys=True))


def load_run(run_dir: Path) -> Run:
    """The run a sweep planned into ``run_dir`` (see ``write_config``)."""
    folder = Path(run_dir)
    try:
        config = json.loads((folder / "config.json").read_text())
        how = json.loads((folder / RUN_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise HarnessError(f"{folder} is not a planned run folder: {exc}") from None
    config.pop("key", None)
    run_config = from_mapping(RunConfig, config, where=str(folder / "config.json"))
    if "data_loading" in how:
        how["data_loading"] = from_mapping(DataLoading, how["data_loading"],
                                           where=f"{folder / RUN_FILE}: data_loading")
    return Run(config=run_config, state=run_state(folder), **how)
