"""Published tables: the packaged Cambrian-1 numbers, the link to registry ids, and a clear
error (file, line, field) for a malformed row of a user's own table."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.encoder import ENCODERS
from harness.errors import HarnessError
from harness.published import ENCODER_IDS, builtin_path, read_builtin, read_published
from harness.published.names import ENSEMBLE_MEMBER_IDS, display_name, ensemble_id_for
from harness.published.reader import classify
from harness.sweep.plan import split_combination

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


def test_every_linked_id_is_a_registered_encoder() -> None:
    """A link to an id the registry does not know would never sit beside a measured run."""
    registered = set(ENCODERS.names())
    assert set(ENCODER_IDS.values()) - registered == set()
    assert set(ENSEMBLE_MEMBER_IDS.values()) - registered == set()
    assert len(set(ENCODER_IDS.values())) == len(ENCODER_IDS)  # one paper name per id


SIGLIP, DINO = "siglip-vit-so400m14-384.webli", "dinov2-vit-l14-518.lvd142m"
CONVNEXT, CLIP = "openclip-convnext-xxl-1024.laion2b", "clip-vit-l14-336.openai"


def test_table2_ensembles_link_to_the_combination_a_sweep_runs() -> None:
    rows = read_builtin("cambrian-1")
    ensembles = {r.subject: r.encoder_id for r in rows if r.kind == "encoder ensemble"}
    assert ensembles == {
        "SigLIP+DINOv2": f"{SIGLIP}+{DINO}",
        "SigLIP+ConvNext": f"{SIGLIP}+{CONVNEXT}",
        "CLIP+ConvNext": f"{CLIP}+{CONVNEXT}",
        "SigLIP+CLIP+ConvNext": f"{SIGLIP}+{CLIP}+{CONVNEXT}",
        "SigLIP+DINOv2+ConvNext": f"{SIGLIP}+{DINO}+{CONVNEXT}",
        "SigLIP+DINOv2+ConvNext+CLIP": f"{SIGLIP}+{DINO}+{CONVNEXT}+{CLIP}",
    }
    for combination in ensembles.values():  # each is the id `--encoders` gives that entry
        assert "+".join(split_combination(combination)) == combination
    assert all(r.encoder_id is None for r in rows if r.kind == "model")


def test_an_ensemble_with_an_unknown_member_stays_unlinked(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text(HEADER + "T2,SigLIP+MyNet,encoder ensemble,ensemble,,MMVP,30\n"
                    "T2,DINOv2 ViT-L/14@518 + CLIP,encoder ensemble,ensemble,,MMVP,31\n"
                    "T2,SigLIP+SigLIP,encoder ensemble,ensemble,,MMVP,32\n"
                    "T2,SigLIP,encoder ensemble,ensemble,,MMVP,33\n")
    linked = {r.subject: r.encoder_id for r in read_published(path)}
    assert linked == {"SigLIP+MyNet": None, "DINOv2 ViT-L/14@518 + CLIP": f"{DINO}+{CLIP}",
                      "SigLIP+SigLIP": None, "SigLIP": None}
    assert ensemble_id_for("SigLIP + DINOv2") == f"{SIGLIP}+{DINO}"


def test_display_names_come_from_the_paper_names() -> None:
    assert display_name(SIGLIP) == "SigLIP SO400M/14@384"
    assert display_name(f"{SIGLIP}+{DINO}") == "SigLIP SO400M/14@384 + DINOv2 ViT-L/14@518"
    assert display_name("effnet-lite0-224.in1k+x.y") == "effnet-lite0-224.in1k + x.y"


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
