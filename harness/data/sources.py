"""Training data sources, registered like encoders: each is found under one data root
(``DIR/<name>/``) in the layout of its public release, read as LLaVA-format conversations, and
fingerprinted (annotation hash and subsample) into the key of every run that trains on it.

Built in: the generated ``probe`` (``harness.data.probes``, never read from the data root),
LLaVA-1.5's two stages (``llava-558k``, ``llava-665k``) and Cambrian-1's encoder-study sets. A
plugin adds sources through the ``harness.data_sources`` entry-point group; a user's own file is
a TOML source (``load_source_file``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.config import from_mapping, read_toml
from harness.data.conversations import load_conversations
from harness.data.mixture import balance, with_short_answer_prompt
from harness.errors import HarnessError
from harness.registry import Registry

PROBE = "probe"
SUBSAMPLE_SEED = 0
"""The subsample of a stage's source is the same for every seed of a sweep: seeds vary the
training, never the data."""


@dataclass(frozen=True)
class DataSource:
    """One data release: where its conversations and images lie under ``DIR/<name>/``."""

    name: str
    description: str
    annotations: str = ""
    """The conversation file (LLaVA-format JSON or JSONL), relative to the source's folder."""
    image_root: str = "."
    """What the entries' ``image`` paths are relative to, within the source's folder."""
    image_folders: tuple[str, ...] = ()
    """Folders of the release that must be there (relative to ``image_root``)."""
    release: str = ""
    """Where the public files come from."""
    uncertain: str = ""
    """What is not known for sure about this source's match to the paper (shown in lists)."""
    folder: str = ""
    """An absolute folder for a user's source; empty: ``DIR/<name>/`` under the data root."""
    mix: tuple[str, ...] = ()
    """A Cambrian-style mixture of these sources (registered names or source TOML files)
    instead of files of its own, balanced by ``threshold``."""
    threshold: int | None = None
    """A mixture keeps at most this many entries per member source, a seeded subset
    (Cambrian-7M: 250k-350k); None keeps all."""
    short_answer_prompt: bool = False
    """A mixture adds "Answer the question using a single word or phrase." to its
    short-answer entries (Cambrian's fix for the answer-machine problem)."""

    @property
    def procedural(self) -> bool:
        """True for the probe: generated per run, never read from the data root."""
        return self.name == PROBE

    def root(self, data_root: Path | None) -> Path:
        if self.folder:
            return Path(self.folder).expanduser()
        if data_root is None:
            raise HarnessError(f"data source {self.name!r} is read from DIR/{self.name}/; set "
                               "the data root with --data-root DIR, $HARNESS_DATA or "
                               "data_root in the cluster profile")
        return Path(data_root) / self.name

    def annotation_file(self, data_root: Path | None) -> Path:
        return self.root(data_root) / self.annotations

    def images(self, data_root: Path | None) -> Path:
        return self.root(data_root) / self.image_root

    def load(self, data_root: Path | None) -> list[dict[str, Any]]:
        """The source's entries; a mixture's with each image path made absolute (its members
        keep their images in different folders)."""
        if self.mix:
            return self._load_mixture(data_root)
        path = self.annotation_file(data_root)
        try:
            rows = load_conversations(path)
        except FileNotFoundError:
            raise HarnessError(f"data source {self.name!r}: no {path} ({self.layout()})") from None
        except ValueError as exc:
            raise HarnessError(f"data source {self.name!r}: {path} is not LLaVA-format JSON "
                               f"or JSONL: {exc}") from None
        if not isinstance(rows, list) or not all(
                isinstance(r, dict) and "conversations" in r for r in rows):
            raise HarnessError(f"data source {self.name!r}: {path} must be a list of entries "
                               "with 'conversations' (LLaVA format)")
        return rows

    def members(self) -> list[DataSource]:
        return [resolve_source(name) for name in self.mix]

    def _load_mixture(self, data_root: Path | None) -> list[dict[str, Any]]:
        pairs = []
        for member in self.members():
            images = member.images(data_root)
            pairs += [(member.name, {**row, "image": str(images / row["image"])}
                       if row.get("image") else row) for row in member.load(data_root)]
        rows, _ = balance(pairs, self.threshold, SUBSAMPLE_SEED)
        if self.short_answer_prompt:
            rows = [with_short_answer_prompt(r) for r in rows]
        return rows

    def layout(self) -> str:
        if self.mix:
            return f"a mixture of {', '.join(self.mix)}"
        folders = ", ".join(f"{self.image_root.rstrip('/')}/{f}/".removeprefix("./")
                            for f in self.image_folders)
        return f"{self.annotations}" + (f" + {folders}" if folders else "")


def check_samples(samples: int | None, available: int, source: str, asker: str) -> None:
    """Refuse to draw more entries than a source has (never oversampling), in one line."""
    if samples is not None and samples > available:
        raise HarnessError(f"{asker} asks for {samples:,} samples but data source {source!r} "
                           f"has {available:,}; lower the recipe's samples or use "
                           "samples = \"all\"")


def subsample(rows: list[dict[str, Any]], samples: int | None, source: str, stage: str
              ) -> list[dict[str, Any]]:
    """``samples`` entries drawn without replacement by a fixed seed (all of them for None),
    in the source's order; more than the source has is an error, never oversampling."""
    check_samples(samples, len(rows), source, f"stage {stage!r}")
    if samples is None or samples == len(rows):
        return rows
    chosen = sorted(random.Random(SUBSAMPLE_SEED).sample(range(len(rows)), samples))
    return [rows[i] for i in chosen]


def resolve_source(name_or_file: str) -> DataSource:
    """A registered source by name, or a user's source TOML file."""
    if name_or_file.endswith(".toml"):
        return load_source_file(name_or_file)
    return DATA_SOURCES.get(name_or_file)


def load_source_file(path: str | Path) -> DataSource:
    """A user's source from TOML: ``name``, ``description``, ``annotations`` and
    ``image_root``, both relative to the TOML file's folder unless absolute; or a mixture:
    ``mix`` (source names or TOML files), ``threshold``, ``short_answer_prompt``."""
    path = Path(path)
    data = read_toml(path)
    source = from_mapping(DataSource, {"description": f"user source from {path}", **data},
                          where=str(path))
    if source.folder:
        raise HarnessError(f"{path}: 'folder' is implied by where the file lies; drop it")
    if bool(source.mix) == bool(source.annotations):
        raise HarnessError(f"{path}: give either 'annotations' (a file of its own) or 'mix' "
                           "(a mixture of sources)")
    mix = tuple(str((path.parent / m).resolve()) if m.endswith(".toml") else m
                for m in source.mix)
    for member in mix:
        resolve_source(member)  # an unknown member is refused now, naming the valid ones
    return DataSource(**{**source.__dict__, "folder": str(path.resolve().parent), "mix": mix})


DATA_SOURCES: Registry[DataSource] = Registry(
    "data source", "harness.data_sources", name_of=lambda s: s.name, item_type=DataSource
)

for _source in (
    DataSource(
        name=PROBE,
        description="Generated pictures with known answers (count, left/right, depth "
                    "order): shapes, and Fashion-MNIST objects with [data] kinds, per run at "
                    "the preset's size",
        release="generated by harness.data.probes"),
    DataSource(
        name="llava-558k",
        description="LLaVA-1.5 stage 1 (align): 558K BLIP-captioned LAION/CC/SBU images",
        annotations="blip_laion_cc_sbu_558k.json", image_root="images",
        release="liuhaotian/LLaVA-Pretrain (blip_laion_cc_sbu_558k.json, images.zip)"),
    DataSource(
        name="llava-665k",
        description="LLaVA-1.5 stage 2 (finetune): the 665K instruction mixture",
        annotations="llava_v1_5_mix665k.json",
        image_folders=("coco/train2017", "gqa/images", "ocr_vqa/images",
                       "textvqa/train_images", "vg/VG_100K", "vg/VG_100K_2"),
        release="liuhaotian/LLaVA-Instruct-150K (llava_v1_5_mix665k.json) and the image "
                "releases of COCO 2017, GQA, OCR-VQA, TextVQA and Visual Genome"),
    DataSource(
        name="cambrian-adapter-1.2m",
        description="Cambrian-1 encoder study, align stage: 1.2M captioned images "
                    "(ShareGPT4V-PT)",
        annotations="share-captioner_coco_lcs_sam_1246k_1107.json",
        release="Lin-Chen/ShareGPT4V (share-captioner_coco_lcs_sam_1246k_1107.json) and its "
                "image folders (coco, llava/llava_pretrain, sam)",
        uncertain="the paper (Sec. 2.1) says '1.2M adapter data from ShareGPT-4V' without "
                  "naming the file; ShareGPT4V-PT's 1,246K ShareCaptioner captions are the "
                  "release of that size"),
    DataSource(
        name="cambrian-737k",
        description="Cambrian-1 encoder study, finetune stage: 737K instruction samples",
        annotations="Cambrian737k.jsonl",
        release="nyu-visionx/Cambrian-10M (jsons/Cambrian737k.jsonl) with the image folders "
                "of that release",
        uncertain="the paper (App. G.5) builds it as LLaVA-665K + 15,501 AI2D + 14,999 "
                  "DocVQA + 13,000 DVQA, which sums to about 709K, not 737K (ChartQA's 28K "
                  "train split would close the gap; no source says so); Cambrian737k.jsonl "
                  "in Cambrian-10M is taken to be that mix"),
):
    DATA_SOURCES.register(_source)
