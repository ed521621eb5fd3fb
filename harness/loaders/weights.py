"""Where an encoder's weights come from and how a weights file is read: a user's local file or
folder first (``weights_path`` or ``$HARNESS_WEIGHTS_DIR``), else the hub, never by unpickling
untrusted objects (safetensors, or ``torch.load(weights_only=True)``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from safetensors.torch import load_file, save_file

from harness.errors import HarnessError
from harness.record import with_umask_mode

if TYPE_CHECKING:
    from harness.encoder import EncoderSpec

WEIGHTS_DIR_ENV = "HARNESS_WEIGHTS_DIR"
FILE_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin", ".pth.tar")
# Names a weights file has inside a downloaded hub folder, best (safetensors) first.
FOLDER_FILES = ("model.safetensors", "open_clip_model.safetensors", "pytorch_model.bin",
                "open_clip_pytorch_model.bin", "model.pth")


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def local_weights(spec: EncoderSpec, override: Path | None = None) -> tuple[Path | None,
                                                                            list[str]]:
    """The user's weights for ``spec`` (a file or a folder) and the places looked at.

    ``override`` must exist; otherwise ``$HARNESS_WEIGHTS_DIR/<id>`` is tried as a folder and
    with each known suffix (safetensors first).
    """
    if override is not None:
        if not override.exists():
            raise HarnessError(f"weights for encoder {spec.id!r} not found at {override}")
        return override, [str(override)]
    root = os.environ.get(WEIGHTS_DIR_ENV)
    if not root:
        return None, [f"${WEIGHTS_DIR_ENV} (unset)"]
    base = Path(root).expanduser() / spec.id
    candidates = [base, *(base.with_name(spec.id + s) for s in FILE_SUFFIXES)]
    for candidate in candidates:
        if candidate.exists():
            return candidate, [str(candidate)]
    return None, [f"{base}{{/,{','.join(FILE_SUFFIXES)}}}"]


def weights_file(path: Path) -> Path:
    """A single weights file: ``path`` itself, or the best-named one inside a folder."""
    if path.is_file():
        return path
    for name in FOLDER_FILES:
        if (path / name).is_file():
            return path / name
    files = sorted(p for p in path.iterdir() if p.name.endswith(FILE_SUFFIXES))
    if len(files) == 1:
        return files[0]
    raise HarnessError(f"no single weights file in {path}: expected one of"
                       f" {', '.join(FOLDER_FILES)} (or exactly one *.safetensors/*.pth file)")


def read_state_dict(path: Path, *, key: str | None = None) -> dict[str, torch.Tensor]:
    """Tensors from a safetensors file, or a .pth/.bin read with ``weights_only=True``.

    ``key`` picks a nested dict (``state_dict``, ``model``) out of a training checkpoint.
    """
    path = weights_file(path)
    try:
        if path.suffix == ".safetensors":

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a corrupt file or one holding arbitrary pickled objects
        raise HarnessError(f"cannot read weights file {path} safely (safetensors, or torch.load"
                           f" with weights_only=True): {one_line(exc)}") from exc
    if key is not None:
        if not isinstance(state, dict) or key not in state:
            keys = ", ".join(sorted(state)[:8]) if isinstance(state, dict) else type(state)
            raise HarnessError(f"weights file {path} has no {key!r} entry; it has: {keys}")
        state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor)
                                              for v in state.values()):
        raise HarnessError(f"weights file {path} does not hold a state dict of tensors")
    return state


def save_state_dict(state: dict[str, torch.Tensor], path: Path) -> Path:
    """Write tensors as safetensors (how a user should hand this project weights)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().contiguous() for k, v in state.items()}, str(path))
    with_umask_mode(Path(path))
    return path


def missing_weights(spec: EncoderSpec, looked: list[str], remote: str,
                    cause: BaseException | str) -> HarnessError:
    """The one-line error for weights that could not be had: where it looked, how to fix it."""
    mode = "offline: HF_HUB_OFFLINE=1" if hub_offline() else "online"
    reason = cause if isinstance(cause, str) else one_line(cause)
    where = f"{', '.join(looked)} and {remote}" if looked else remote
    return HarnessError(
        f"no weights for encoder {spec.id!r}: looked in {where}"
        f" ({mode}; {reason}); put the weights at ${WEIGHTS_DIR_ENV}/{spec.id}.safetensors"
        f" (or .pth, or a folder {spec.id}/), pass --weights PATH, or go online to download them"
    )


def one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else ""
    return f"{type(exc).__name__}: {text[:300]}".rstrip(": ")
