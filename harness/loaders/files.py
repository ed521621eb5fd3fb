"""The ``file`` loader kind: a timm architecture with weights from one checkpoint file that no
library knows by name (MoCo v3's release files, a package's bundled ``.pth``).

``spec.weights`` says where the file is: an ``https://`` URL (downloaded once into torch's hub
cache when online), ``package:module/relative/path`` (a file shipped inside an installed
Python package), or a filesystem path. A local ``weights_path`` / ``$HARNESS_WEIGHTS_DIR`` file
comes first. Options (the rest go to ``timm.create_model``):

- ``state_dict_key``: the nested entry holding the tensors (``state_dict``, ``model``).
- ``prefix``: keep only keys with this prefix, and strip it (``module.base_encoder.``).
- ``ignore``: key prefixes to drop after that (a projection head, say).
- ``match``: ``names`` (default, a strict load) or ``position`` (tensors in file order onto the
  model's state in its order, every shape checked: for ports whose names differ).
- ``num_classes``: the classifier the file carries, built for the load and removed after.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from urllib.parse import urlparse

import torch

from harness.encoder import Encoder, EncoderSpec, plain
from harness.errors import HarnessError
from harness.loaders.registry import register_loader
from harness.loaders.timm_models import TimmEncoder, create_timm
from harness.loaders.weights import hub_offline, local_weights, missing_weights, read_state_dict

FILE_OPTIONS = ("state_dict_key", "prefix", "ignore", "match", "num_classes")
MATCHES = ("names", "position")


def resolve_checkpoint(spec: EncoderSpec, weights_path: Path | None) -> Path:
    """The checkpoint file for ``spec``: local first, then its URL, package resource or path."""
    local, looked = local_weights(spec, weights_path)
    if local is not None:
        return local
    where = spec.weights
    if not where:
        raise missing_weights(spec, looked, "the spec (it names no published file)",
                              "nothing to download")
    if where.startswith("package:"):
        module, _, relative = where.removeprefix("package:").partition("/")
        found = importlib.util.find_spec(module)
        if found is None or not found.submodule_search_locations:
            raise missing_weights(spec, looked, f"the Python package {module!r}",
                                  "package not installed")
        path = Path(next(iter(found.submodule_search_locations))) / relative
        if not path.is_file():
            raise missing_weights(spec, looked, str(path), "file missing from the package")
        return path
    if where.startswith(("https://", "http://")):
        cache = Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(where).path).name
        if cache.is_file():
            return cache
        if hub_offline():
            raise missing_weights(spec, [*looked, str(cache)], where, "not downloaded")
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(where, str(cache), progress=False)
        except Exception as exc:  # network errors come in many types
            raise missing_weights(spec, [*looked, str(cache)], where, exc) from exc
        return cache
    path = Path(where).expanduser()
    if not path.exists():
        raise missing_weights(spec, looked, str(path), "no such file")
    return path


def select_tensors(state: dict[str, torch.Tensor], prefix: str | None,
                   ignore: tuple[str, ...]) -> dict[str, torch.Tensor]:
    if prefix:
        state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    return {k: v for k, v in state.items() if not k.startswith(tuple(ignore))}


def load_by_position(model: torch.nn.Module, state: dict[str, torch.Tensor],
                     source: Path) -> None:
    """Copy tensors in file order onto the model's state in its order, checking every shape
    (the model's own bookkeeping buffers, like BatchNorm's batch counter, are skipped)."""
    target = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    tensors = [v for k, v in state.items() if not k.endswith("num_batches_tracked")]
    if len(tensors) != len(target):
        raise HarnessError(f"{source} holds {len(tensors)} tensors, the model has"
                           f" {len(target)}: not the same architecture")
    mapped = {}
    for (name, mine), theirs in zip(target.items(), tensors, strict=True):
        if mine.shape != theirs.shape:
            raise HarnessError(f"{source}: tensor for {name} has shape {tuple(theirs.shape)},"
                               f" the model wants {tuple(mine.shape)}")
        mapped[name] = theirs
    model.load_state_dict(mapped, strict=False)


@register_loader("file")
def build_from_file(spec: EncoderSpec, tiny: bool, *,
                    weights_path: Path | None = None,
                    pretrained: bool = True) -> Encoder:
    options = plain(spec.options)
    file_opts = {k: options.pop(k) for k in FILE_OPTIONS if k in options}
    size = spec.tiny_resolution if tiny else spec.resolution
    if tiny or not pretrained:
        model = create_timm(spec, tiny, size=size, extra=options)
        return TimmEncoder(spec, model.eval(), size)
    match = file_opts.get("match", "names")
    if match not in MATCHES:
        raise HarnessError(f"encoder {spec.id!r}: bad match {match!r}; valid: {', '.join(MATCHES)}")
    path = resolve_checkpoint(spec, weights_path)
    state = select_tensors(read_state_dict(path, key=file_opts.get("state_dict_key")),
                           file_opts.get("prefix"), tuple(file_opts.get("ignore", ())))
    model = create_timm(spec, False, size=size, num_classes=file_opts.get("num_classes", 0),
                        extra=options)
    if match == "position":
        load_by_position(model, state, path)
    else:
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            detail = " ".join(str(exc).split())[:300]
            raise HarnessError(f"weights file {path} does not fit {spec.source!r}: {detail}"
                               ) from exc
    if file_opts.get("num_classes"):
        model.reset_classifier(0)
    return TimmEncoder(spec, model.eval(), size)
