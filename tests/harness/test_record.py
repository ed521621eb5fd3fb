"""The result record of a combination of encoders: one entry (id ``a+b``, group ``multi``)
with its members, read back exactly; a single encoder's record keeps its old bytes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.record import (
    EncoderInfo,
    ResultRecord,
    combine_infos,
    read_record,
    write_record,
)

SIGLIP = EncoderInfo(id="siglip-vit-so400m14-384.webli", group="clip", supervision="language",
                     architecture="vit", resolution=384, tiny=False, params=400,
                     loader="timm", source="vit_so400m_patch14_siglip_384", weights="webli",
                     distribution="encoder-harness", distribution_version="0.1.0")
DINO = EncoderInfo(id="dinov2-vit-l14-518.lvd142m", group="ssl", supervision="self",
                   architecture="vit", resolution=518, tiny=False, params=300,
                   loader="transformers", source="facebook/dinov2-large", weights=None,
                   distribution="encoder-harness", distribution_version="0.1.0")


def record(info: EncoderInfo) -> ResultRecord:
    return ResultRecord(run_key="k", status="done", smoke=False, encoder=info, recipe="frozen",
                        llm="tiny-llama", connector="sva", seed=0, preset="smoke", config={})


def test_a_combination_is_one_entry_with_its_members() -> None:
    info = combine_infos([SIGLIP, DINO])
    assert info.id == "siglip-vit-so400m14-384.webli+dinov2-vit-l14-518.lvd142m"
    assert (info.group, info.supervision, info.architecture) == ("multi", "language+self", "vit")
    assert info.resolution == 518 and info.params == 700 and not info.tiny
    assert info.loader == "timm+transformers" and info.weights == "webli+"
    assert info.distribution == "encoder-harness" and info.parts == (SIGLIP, DINO)
    tiny = combine_infos([SIGLIP.__class__(**{**SIGLIP.__dict__, "weights": None}), DINO])
    assert tiny.weights is None  # random weights everywhere: no weights to name


def test_records_round_trip(tmp_path: Path) -> None:
    combo = record(combine_infos([SIGLIP, DINO]))
    write_record(tmp_path, combo)
    assert read_record(tmp_path) == combo
    single = record(SIGLIP)
    write_record(tmp_path, single)
    assert "parts" not in json.loads((tmp_path / "record.json").read_text())["encoder"]
    assert read_record(tmp_path) == single



@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_take_the_umask_not_owner_only(tmp_path: Path, umask: int,
                                                     mode: int) -> None:
    """A dashboard or ingest running as another user of a shared cluster reads these."""
    import os
    import stat

    from harness.record import atomic_write_bytes

    old = os.umask(umask)
    try:
        written = atomic_write_bytes(tmp_path / "record.json", b"{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE(written.stat().st_mode) == mode

