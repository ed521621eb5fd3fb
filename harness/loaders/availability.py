"""Can a run's weights be had where it will run? Asked at plan time, before anything trains:
an encoder's or LLM's weights are there when they are a local file or folder
(``$HARNESS_WEIGHTS_DIR``, a path), ship in a package, or sit in the Hugging Face cache; online,
the hub may still serve them. With ``HF_HUB_OFFLINE=1`` a cache miss is an error.

Only the place is checked (a snapshot folder in the cache), not the bytes: reading gigabytes
per encoder at plan time would cost more than it saves.
"""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import constants

from harness.encoder import EncoderSpec
from harness.loaders.weights import hub_offline, local_weights


def hub_cache() -> Path:

    return Path(constants.HF_HUB_CACHE)


def in_hub_cache(repo: str, revision: str | None = None) -> bool:
    """True when the cache holds a snapshot of model repository ``repo`` (of ``revision``,
    a commit, when one is pinned)."""
    snapshots = hub_cache() / f"models--{repo.replace('/', '--')}" / "snapshots"
    if revision is not None:
        return (snapshots / revision).is_dir()
    return snapshots.is_dir() and any(snapshots.iterdir())


def hub_repo(spec: EncoderSpec) -> str | None:
    """The hub repository an encoder's pretrained weights come from, when its loader says."""
    if spec.loader in ("transformers", "diffusers"):
        return None if Path(spec.source).expanduser().exists() else spec.source
    if spec.loader == "timm":
        # deferred: timm takes seconds to import; only timm encoders need it
        import timm

        cfg = timm.models.get_pretrained_cfg(f"{spec.source}.{spec.weights}")
        return getattr(cfg, "hf_hub_id", None) or None
    if spec.loader == "open_clip":
        # deferred: open_clip takes seconds to import; only open_clip encoders need it
        import open_clip

        hub = open_clip.get_pretrained_cfg(spec.source, spec.weights or "").get("hf_hub")
        # "org/repo/" or "org/repo/file": the repository is the first two parts.
        return "/".join(hub.strip("/").split("/")[:2]) if hub else None
    return None  # a file loader: its package or path is checked when it builds


def encoder_weights_problem(spec: EncoderSpec, tiny: bool) -> str | None:
    """Why ``spec``'s weights cannot be had offline (one line), or None."""
    if tiny or spec.weights is None:
        return None  # a twin or an encoder without published weights builds from nothing
    local, looked = local_weights(spec)
    if local is not None or not hub_offline():
        return None
    repo = hub_repo(spec)
    if repo is None or in_hub_cache(repo):
        return None
    return (f"encoder {spec.id!r}: weights not in the Hugging Face cache ({repo}) and "
            f"HF_HUB_OFFLINE=1; looked at {', '.join(looked)}; download them where the jobs "
            f"run (huggingface-cli download {repo}) or put a file at "
            f"$HARNESS_WEIGHTS_DIR/{spec.id}.safetensors")


def llm_weights_problem(source: str | None, revision: str | None = None) -> str | None:
    """Why a Hugging Face LLM's weights cannot be had offline (one line), or None."""
    if source is None or Path(source).expanduser().is_dir() or not hub_offline():
        return None
    if in_hub_cache(source, revision):
        return None
    at = f" at revision {revision}" if revision else ""
    pin = f" --revision {revision}" if revision else ""
    return (f"LLM {source!r}{at}: not in the Hugging Face cache ({hub_cache()}) and "
            f"HF_HUB_OFFLINE=1; download it where the jobs run "
            f"(huggingface-cli download {source}{pin}) or name a local folder "
            "(hf:/path/to/model)")
