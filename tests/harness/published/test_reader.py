"""Published tables: the packaged Cambrian-1 numbers, the link to registry ids, and a clear
error (file, line, field) for a malformed row of a user's own table."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.encoder import ENCODERS
from harness.errors import HarnessError
from harness.published import ENCODER_IDS, builtin_path, read_builtin, read_published
from harness.published.reader import classify

HEADER = "source,subject,kind,group,supervision,metric,value\n"
GOOD = '"My paper, Table 1",My ViT-B/16,encoder,ssl,Self-Supervised,MMVP,33.5\n'


def test_the_packaged_table_ships_with_its_sources() -> None:
    path = builtin_path("cambrian-1")
    assert path.is_file() and (path.parent / "README.md").is_file()
    rows = read_builtin("cambrian-1")
    assert len(rows) == 278 and {r.paper for r in rows} == {"Cambrian-1 (Tong et al., 2024)"}
    figure4 = [r for r in rows if "Figure 4" in r.source]
    assert len(figure4) == 19 * 4 and {r.level for r in figure4} == {"category"}
    assert {r.group for r in figure4} == {"clip", "ssl", "convnext", "other"}


def test_every_figure4_encoder_links_to_a_registry_id() -> None:
    figure4 = {r.subject: r.encoder_id for r in read_builtin("cambrian-1")
               if "Figure 4" in r.source}
    assert None not in figure4.values()
    assert figure4["OpenAI CLIP ViT-L/14@336"] == "clip-vit-l14-336.openai"
    assert figure4["DINOv2 ViT-L/14@518"] == "dinov2-vit-l14-518.lvd142m"
    assert figure4["OpenCLIP ConvNeXt-L@512"] == "openclip-convnext-l-512.laion2b"
    # Ids follow the registry's style: architecture, then weights after the dot.
    assert all(i.count(".") == 1 and i == i.lower() for i in ENCODER_IDS.values())


def test_the_linked_ids_that_are_built_in_exist_in_the_registry() -> None:
    built_in = set(ENCODERS.names())
    linked = set(ENCODER_IDS.values())
    assert {"clip-vit-l14-336.openai", "dinov2-vit-l14-518.lvd142m",
            "openclip-convnext-l-512.laion2b"} <= built_in & linked


def test_ensembles_and_models_are_not_linked() -> None:
    rows = read_builtin("cambrian-1")
    assert all(r.encoder_id is None for r in rows if r.kind != "encoder")


@pytest.mark.parametrize(("metric", "expected"), [
    ("MME-P", ("benchmark", "General")), ("CV-Bench-3D", ("benchmark", "Vision-Centric")),
    ("OCR & Chart (category average)", ("category", "OCR & Chart")),
    ("Knowledge", ("category", "Knowledge")), ("Average", ("average", "")),
    ("My-Bench", ("benchmark", "")),
])
def test_classify(metric: str, expected: tuple[str, str]) -> None:
    assert classify(metric) == expected


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mine.csv"
    path.write_text(text)
    return path


def test_a_users_table_with_its_own_links(tmp_path: Path) -> None:
    path = write(tmp_path, "source,subject,kind,metric,value,encoder_id\n"
                 '"My paper, Table 1",My ViT,encoder,MMVP,33.5,my-vit-b16-224.mine\n')
    [row] = read_published(path, paper="Me et al.")
    assert (row.encoder_id, row.level, row.category, row.paper) == (
        "my-vit-b16-224.mine", "benchmark", "Vision-Centric", "Me et al.")


@pytest.mark.parametrize(("text", "message"), [
    ("subject,kind,metric,value\nx,encoder,MMVP,1\n", ":1: missing column 'source'"),
    (HEADER.strip() + ",colour\n" + GOOD.strip() + ",red\n", ":1: unknown column 'colour'"),
    (HEADER + GOOD + GOOD.replace("33.5", "abc"), ":3: field 'value': 'abc' is not a number"),
    (HEADER + GOOD.replace("33.5", "nan"), ":2: field 'value': 'nan' is not a finite number"),
    (HEADER + GOOD.replace(",encoder,", ",robot,"), ":2: field 'kind': 'robot' is not one of"),
    (HEADER + GOOD.replace(",ssl,", ",cnn,"), ":2: field 'group': 'cnn' is not one of"),
    (HEADER + GOOD.replace("My ViT-B/16", ""), ":2: field 'subject': empty"),
    (HEADER + GOOD.strip() + ",extra\n", ":2: field '(end of row)': more cells"),
    (HEADER + '"My paper",x,encoder\n', ":2: field 'group': missing"),
    (HEADER + GOOD + GOOD, ":3: field 'metric': 'My ViT-B/16' / 'MMVP' under this source "
                           "already appears on line 2"),
    (HEADER, "no rows under the header"),
])
def test_malformed_rows_name_line_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(HarnessError) as error:
        read_published(path)
    assert str(error.value).startswith(str(path)) and message in str(error.value)


def test_missing_file_and_unknown_builtin(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="no such file"):
        read_published(tmp_path / "nope.csv")
    with pytest.raises(HarnessError, match="unknown published table 'cambrian-2'; built in: "
                                           "cambrian-1"):
        builtin_path("cambrian-2")
