"""A miniature data root for trying the real-data loop on a laptop (``harness data sample
DIR``): LLaVA-1.5's two training sources and every Table 5 benchmark, each in the layout of its
public release (``harness.data.layouts``), drawn from real photographs that scikit-image ships.

A handful of items each: enough for ``--preset sample`` to train tiny twins and score all
sixteen columns in minutes. Its numbers are smoke numbers, never encoder scores.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from harness.data import layouts
from harness.data.sources import DATA_SOURCES
from harness.errors import HarnessError
from harness.eval.benchmarks import BENCHMARKS
from harness.eval.categories import suites

PHOTOS = {"astronaut.png": "an astronaut", "coffee.png": "a cup of coffee",
          "chelsea.png": "a cat", "rocket.jpg": "a rocket on its launch pad",
          "motorcycle_left.png": "a motorcycle", "camera.png": "a man with a camera",
          "coins.png": "coins", "page.png": "a page of text"}
"""Photographs in scikit-image's data folder, and what each shows."""
ENTRIES = 24
"""Conversations per training source."""
INSTALL_HINT = "pip install 'encoder-harness[sample]' (scikit-image ships the photographs)"


def photo_folder() -> Path:
    """scikit-image's data folder, found without importing it (no SciPy at start-up)."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or spec.origin is None:
        raise HarnessError(f"harness data sample needs scikit-image: {INSTALL_HINT}")
    folder = Path(spec.origin).parent / "data"
    missing = [name for name in PHOTOS if not (folder / name).is_file()]
    if missing:
        raise HarnessError(f"scikit-image at {folder} lacks {missing[0]}; reinstall it: "
                           f"{INSTALL_HINT}")
    return folder


def write_sample(root: Path) -> dict[str, list[str]]:
    """Write the data root into ``root`` (which must be empty or new); returns what it holds."""
    root = Path(root)
    if root.exists() and any(root.iterdir()):
        raise HarnessError(f"{root} is not empty; harness data sample writes a new data root "
                           "and overwrites nothing")
    folder = photo_folder()
    photos = layouts.Photographs([(folder / name, shows) for name, shows in PHOTOS.items()])
    with layouts.drawn_with(photos):
        write_llava_sources(root)
        benchmarks = []
        for name in suites()["table5"]:
            target = root / BENCHMARKS.get(name).data_folder
            target.mkdir(parents=True, exist_ok=True)
            layouts.WRITERS[name](target)
            benchmarks.append(name)
    return {"sources": ["llava-558k", "llava-665k"], "benchmarks": benchmarks}


def _colour(i: int) -> str:
    return layouts.COLOURS[i % len(layouts.COLOURS)]


def write_llava_sources(root: Path, entries: int = ENTRIES) -> None:
    """LLaVA-1.5's two training sources under ``root``, ``entries`` conversations each, in
    their release layouts (images as ``layouts.image`` draws them, captions saying what
    they show)."""
    _llava_558k(root / "llava-558k", entries)
    _llava_665k(root / "llava-665k", entries)


def _llava_558k(folder: Path, entries: int) -> None:
    """``blip_laion_cc_sbu_558k.json`` + ``images/00000/``: one caption per image."""
    source = DATA_SOURCES.get("llava-558k")
    rows = []
    for i in range(entries):
        name = f"00000/{i:09d}.jpg"
        layouts.image(folder / source.image_root / name, _colour(i), fmt="JPEG")
        rows.append({"id": f"{i:09d}", "image": name, "conversations": [
            {"from": "human", "value": "<image>\nWrite a terse but informative summary of "
                                       "the picture."},
            {"from": "gpt", "value": f"a picture of {layouts.shown(_colour(i))}"}]})
    (folder / source.annotations).write_text(json.dumps(rows))


def _llava_665k(folder: Path, entries: int) -> None:
    """``llava_v1_5_mix665k.json`` + the image folders of its five releases, each used."""
    source = DATA_SOURCES.get("llava-665k")
    rows = []
    for i in range(entries):
        where = source.image_folders[i % len(source.image_folders)]
        name = f"{where}/{i:012d}.jpg"
        layouts.image(folder / source.image_root / name, _colour(i), fmt="JPEG")
        rows.append({"id": f"{i:012d}", "image": name, "conversations": [
            {"from": "human", "value": "<image>\nWhat is shown in the image?\nAnswer the "
                                       "question using a single word or phrase."},
            {"from": "gpt", "value": layouts.shown(_colour(i))},
            {"from": "human", "value": "Is it a photograph?"},
            {"from": "gpt", "value": "Yes"}]})
    (folder / source.annotations).write_text(json.dumps(rows))
