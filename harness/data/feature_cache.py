"""Frozen-encoder feature cache: a frozen encoder's features over a dataset's images, computed
once and reused by every frozen recipe, seed and LLM that reads the same images through the same
encoder; stored as safetensors shards under ``<root>/cache/features/<key>/``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock
from PIL import Image
from safetensors import safe_open
from safetensors.torch import save_file

from harness.data.aspect import DEFAULT_ASPECT
from harness.data.conversations import UNREADABLE, collate_items, pad_batch
from harness.encoder import Encoder, plain
from harness.errors import HarnessError
from harness.eval.benchmarks import BENCHMARKS
from harness.eval.files import open_image
from harness.record import with_umask_mode

FORMAT_VERSION = 1
"""Bump when the files' layout or what goes into a key changes: old caches are then ignored."""
MANIFEST = "manifest.json"
SHARD_BYTES = 1 << 30
"""Images per shard are chosen so that a shard holds about this many bytes of features."""


def weights_hash(module: torch.nn.Module) -> str:
    """The identity of a module's weights: a hash of every parameter's and buffer's name,
    dtype, shape and bytes (a re-trained or re-downloaded checkpoint gets a new key)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}\0".encode())
        # Viewed as bytes: numpy has no bfloat16, and the bytes are the identity anyway.
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


def dataset_hash(root: Path, refs: Iterable[str]) -> str:
    """Which images, and which version of each: path, size and modification time.

    The size and time stand in for the bytes (hashing a million images on every run would
    cost more than it saves); a rewritten or copied image changes them, so the key changes.
    """
    digest = hashlib.sha256()
    for ref in sorted(set(refs)):
        try:
            st = (Path(root) / ref).stat()
            version = f"{st.st_size}:{st.st_mtime_ns}"
        except OSError:
            version = "missing"
        digest.update(f"{ref}\0{version}\n".encode())
    return digest.hexdigest()


def cache_fields(encoder: Encoder, transform: Callable, root: Path, refs: Iterable[str], *,
                 autocast: str, device: str) -> dict[str, Any]:
    """Everything that decides the cached numbers; the key is their hash.

    ``autocast`` is the mixed precision the features are computed under (``no``, ``bf16``,
    ``fp16``): the recipe's, so that cached features equal the ones a run would compute.
    """
    spec = encoder.spec
    return {
        "format": FORMAT_VERSION,
        "encoder": spec.id,
        "spec": {f.name: plain(getattr(spec, f.name)) for f in dataclasses.fields(spec)
                 if f.name != "description"},
        "weights": weights_hash(encoder),
        "transform": repr(transform),
        "resolution": encoder.image_size,
        "feature_layer": spec.feature_layer,
        "output_grid": list(encoder.grid),
        "native_grid": list(encoder.native_grid),
        "precision": spec.precision,
        "autocast": autocast,
        "device": device,
        # Kernels change between releases; features made by another torch are not reused.
        "torch": torch.__version__,
        "dataset": dataset_hash(root, refs),
    }


def cache_key(fields: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:24]


class FeatureStore:
    """A finished cache folder, read through memory-mapped safetensors shards."""

    def __init__(self, folder: Path) -> None:

        self.folder = Path(folder)
        try:
            self.manifest = json.loads((self.folder / MANIFEST).read_text())
            self._shards = [safe_open(str(self.folder / s["file"]), framework="pt")
                            for s in self.manifest["shards"]]
        except (OSError, ValueError, KeyError) as exc:
            raise HarnessError(f"feature cache {self.folder} is unreadable ({exc});"
                               " delete the folder and it is built again") from None
        self.key: str = self.manifest["key"]
        self.unreadable: dict[str, str] = dict(self.manifest["unreadable"])
        self._where: dict[str, tuple[int, int]] = {}
        for k, shard in enumerate(self.manifest["shards"]):
            for row, ref in enumerate(shard["images"]):
                self._where[ref] = (k, row)

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, ref: object) -> bool:
        return ref in self._where

    def get(self, ref: str) -> torch.Tensor:
        """Tokens ``[h*w, C]`` of one image (``ref`` relative to the data folder)."""
        k, row = self._where[ref]
        return self._shards[k].get_slice("features")[row]


@dataclasses.dataclass
class CacheUse:
    """What one run did with the cache; goes into the run's record."""

    key: str
    hit: bool
    """True when the features were already on disk (built by an earlier run or another job)."""
    images: int
    encoder_forwards: int = 0
    """Images this run passed through the encoder (building, or images not in the cache)."""

    def as_record(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _batches(refs: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(refs), size):
        yield refs[start:start + size]


def build(folder: Path, key: str, fields: dict[str, Any], encoder: Encoder, transform: Callable,
          root: Path, refs: Sequence[str], *, device: torch.device | str,
          autocast: Callable[[], contextlib.AbstractContextManager] | None = None,
          batch_size: int = 32) -> int:
    """Compute the features of ``refs`` into ``folder`` (which must not exist yet); returns
    the number of images the encoder ran on. Unreadable images are listed, not fatal, as in
    ``ConversationDataset``."""
    folder.mkdir(parents=True)
    unreadable: dict[str, str] = {}
    shards: list[dict[str, Any]] = []
    pending: list[torch.Tensor] = []
    pending_refs: list[str] = []
    per_shard: int | None = None

    def flush() -> None:
        name = f"shard-{len(shards):05d}.safetensors"
        save_file({"features": torch.cat(pending).contiguous()}, str(folder / name))
        with_umask_mode(folder / name)
        shards.append({"file": name, "images": list(pending_refs)})
        pending.clear()
        pending_refs.clear()

    was_training = encoder.training
    encoder.eval()
    forwards = 0
    try:
        for chunk in _batches(list(refs), batch_size):
            pixels, kept = [], []
            for ref in chunk:
                path = Path(root) / ref
                try:
                    with Image.open(path) as img:
                        pixels.append(transform(img.convert("RGB")))
                    kept.append(ref)
                except (OSError, ValueError) as exc:  # as ConversationDataset skips them
                    unreadable[ref] = f"{type(exc).__name__}: {exc}"
            if not kept:
                continue
            with torch.no_grad(), autocast() if autocast else contextlib.nullcontext():
                tokens = encoder(torch.stack(pixels).to(device))
            forwards += len(kept)
            tokens = tokens.detach().to("cpu")
            if per_shard is None:
                per_shard = max(1, SHARD_BYTES // max(1, tokens[0].numel()
                                                      * tokens.element_size()))
            for ref, row in zip(kept, tokens, strict=True):
                pending.append(row.unsqueeze(0))
                pending_refs.append(ref)
                if len(pending) == per_shard:
                    flush()
        if pending:
            flush()
    finally:
        encoder.train(was_training)
    manifest = {"key": key, "fields": fields, "shards": shards, "unreadable": unreadable}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return forwards


def _publish(tmp: Path, final: Path) -> bool:
    """Move a finished build into place; False when another job's build got there first."""
    try:
        os.rename(tmp, final)  # atomic on one file system; a folder is never seen half written
        return True
    except OSError:
        if (final / MANIFEST).exists():
            shutil.rmtree(tmp, ignore_errors=True)
            return False
        raise


def ensure(cache_dir: Path, encoder: Encoder, transform: Callable, root: Path,
           refs: Iterable[str], *, device: torch.device | str, autocast: str = "no",
           autocast_context: Callable[[], contextlib.AbstractContextManager] | None = None,
           batch_size: int = 32) -> tuple[FeatureStore, CacheUse]:
    """The store for these images under this encoder: opened if built, else built once.

    Two jobs that need the same cache at once take turns on a file lock, so only one computes
    it; the build is written to a private folder and renamed into place, so even where the
    lock does not hold (some network file systems) a reader sees a whole cache or none.
    """
    refs = sorted(set(refs))
    fields = cache_fields(encoder, transform, root, refs, autocast=autocast,
                          device=torch.device(device).type)
    key = cache_key(fields)
    cache_dir = Path(cache_dir)
    final = cache_dir / key
    if (final / MANIFEST).exists():
        return FeatureStore(final), CacheUse(key, hit=True, images=len(refs))
    cache_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(cache_dir / f"{key}.lock")):
        if (final / MANIFEST).exists():  # another job built it while this one waited
            return FeatureStore(final), CacheUse(key, hit=True, images=len(refs))
        if final.exists():  # a folder without a manifest was left by hand or by a bug
            shutil.rmtree(final)
        tmp = cache_dir / f".tmp-{key}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            forwards = build(tmp, key, fields, encoder, transform, root, refs, device=device,
                             autocast=autocast_context,
                             batch_size=batch_size)
            _publish(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return FeatureStore(final), CacheUse(key, hit=False, images=len(refs),
                                         encoder_forwards=forwards)


class FeatureDataset(torch.utils.data.Dataset):
    """A ``ConversationDataset`` whose images come from the cache: items carry
    ``image_features`` (one ``[h*w, C]`` tensor per encoder) instead of ``pixels``, so no
    image is decoded and no encoder runs."""

    def __init__(self, base, stores: Sequence[FeatureStore]) -> None:
        self.base = base
        self.stores = list(stores)
        self.bad_images: dict[str, str] = base.bad_images

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> dict[str, Any]:

        ref = self.base.records[i]["image"]
        for store in self.stores:
            if ref in store.unreadable:  # skipped and counted, as the pixel path does
                return {UNREADABLE: (str(self.base.image_root / ref), store.unreadable[ref])}
            if ref not in store:
                raise HarnessError(f"image {ref!r} is not in feature cache {store.folder}")
        t = self.base.tokenized[i]
        return {"input_ids": torch.tensor(t.input_ids), "labels": torch.tensor(t.labels),
                "image_features": [store.get(ref) for store in self.stores]}

    def collate(self, batch: list[dict[str, Any]]) -> dict[str, Any]:

        return collate_items(batch, self._pad)

    def _pad(self, kept: list[dict[str, Any]]) -> dict[str, Any]:

        out = pad_batch([{"input_ids": b["input_ids"], "labels": b["labels"],
                          "pixels": torch.empty(0)} for b in kept], self.base.pad_id, "right")
        del out["pixels"]
        out["image_features"] = [torch.stack([b["image_features"][k] for b in kept])
                                 for k in range(len(self.stores))]
        return out


@dataclasses.dataclass
class FrozenFeatures:
    """The cache as one run uses it: one store per encoder, the training dataset wrapper, and
    the lookup evaluation calls per image (``evaluate(..., image_features=this)``)."""

    stores: list[FeatureStore]
    encoders: list[Encoder]
    transforms: list[Callable]
    root: Path
    uses: list[CacheUse]

    def dataset(self, base) -> FeatureDataset:
        return FeatureDataset(base, self.stores)

    def __call__(self, ref: str | bytes) -> list[torch.Tensor]:
        """Features of one image for evaluation. An image the cache does not hold (embedded
        bytes, an image the dataset did not list) goes through the encoders, and is counted;
        an unreadable one raises ``UnreadableImage`` as the pixel path would."""
        if isinstance(ref, str) and all(ref in s for s in self.stores):
            return [s.get(ref) for s in self.stores]
        return self._computed(ref, self.root)

    def within(self, folder: Path) -> Callable[[str | bytes], list[torch.Tensor]]:
        """The lookup for a benchmark whose image paths are relative to ``folder``: one
        inside the cache's root reads the cache (a probe kind's own folder), one elsewhere
        goes through the encoders."""
        folder = Path(folder)
        if folder == self.root:
            return self
        try:
            inside = folder.relative_to(self.root)
        except ValueError:
            return lambda ref: self._computed(ref, folder)
        return lambda ref: self((inside / ref).as_posix() if isinstance(ref, str) else ref)

    def _computed(self, ref: str | bytes, root: Path) -> list[torch.Tensor]:

        image = open_image(ref, root)
        out = []
        for encoder, transform, use in zip(self.encoders, self.transforms, self.uses,
                                           strict=True):
            device = next(encoder.parameters()).device
            with torch.no_grad():
                out.append(encoder(transform(image)[None].to(device))[0].to("cpu"))
            use.encoder_forwards += 1
        return out

    def record(self) -> dict[str, Any]:
        return {"used": True, "hit": all(u.hit for u in self.uses),
                "keys": [u.key for u in self.uses], "images": self.uses[0].images,
                "encoder_forwards": sum(u.encoder_forwards for u in self.uses)}


def open_frozen_features(cache_dir: Path, encoders: Sequence[Encoder], root: Path,
                         refs: Iterable[str], *, device: torch.device | str,
                         autocast: str = "no",
                         autocast_context: Callable[[], contextlib.AbstractContextManager]
                         | None = None, batch_size: int = 32) -> FrozenFeatures:
    """Open (building where needed) the cache of each encoder over the images ``refs``."""
    refs = sorted(set(refs))
    stores, uses, transforms = [], [], []
    for encoder in encoders:
        transform = encoder.transform()
        store, use = ensure(cache_dir, encoder, transform, root, refs, device=device,
                            autocast=autocast, autocast_context=autocast_context,
                            batch_size=batch_size)
        stores.append(store)
        uses.append(use)
        transforms.append(transform)
    return FrozenFeatures(stores, list(encoders), transforms, Path(root), uses)


def image_refs(*row_lists: Iterable[dict[str, Any]]) -> list[str]:
    """The image paths of conversation rows (LLaVA's ``image`` field)."""
    return sorted({r["image"] for rows in row_lists for r in rows if r.get("image")})


def cache_off_reason(run) -> str | None:
    """Why a planned run does not use the cache (None: it does). Only a recipe that keeps
    the encoder frozen in every stage may: an unfrozen encoder's features change as it
    trains. The cache holds the probe's images as the old ``resize`` feeds them, so runs on
    data-root sources or another image aspect go without it."""
    if not run.feature_cache:
        return "switched off (feature_cache = false)"
    if run.config.recipe.encoder != "frozen":
        return f"encoder {run.config.recipe.encoder} in the recipe"
    if run.config.data is None or run.config.image_aspect != DEFAULT_ASPECT:
        return "the feature cache covers the probe at image_aspect = 'resize' only"
    return None


def for_run(run, encoders: Sequence[Encoder], data_root: Path,
            rows: Iterable[dict[str, Any]], accelerator,
            benchmark_folders: Mapping[str, Path] | None = None
            ) -> tuple[FrozenFeatures | None, dict[str, Any]]:
    """The cache a planned run (``harness.sweep.plan.Run``) uses, or None, and what its
    record says about it. Holds the run's training images and the images of its benchmarks
    whose folder (``benchmark_folders``, default ``data_root``) lies inside ``data_root``,
    by their paths relative to it (read them through ``FrozenFeatures.within``)."""
    reason = cache_off_reason(run)
    if reason is not None:
        return None, {"used": False, "hit": False, "reason": reason}

    refs = image_refs(rows)
    for fingerprint in run.config.benchmarks:
        folder = Path((benchmark_folders or {}).get(fingerprint["name"], data_root))
        if not folder.is_relative_to(data_root):
            continue
        inside = folder.relative_to(data_root)
        items = BENCHMARKS.get(fingerprint["name"]).items(folder)
        refs += [(inside / i.image).as_posix() for i in items if isinstance(i.image, str)]
    features = open_frozen_features(
        Path(run.feature_cache), encoders, Path(data_root), refs, device=accelerator.device,
        autocast=str(accelerator.mixed_precision), autocast_context=accelerator.autocast,
        batch_size=run.eval_batch)
    return features, features.record()
