"""The generic registry: lookup, duplicates, and entry-point discovery of real (fake) plugins."""

from __future__ import annotations

import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.registry import Registry, UnknownNameError


@dataclass(frozen=True)
class Thing:
    name: str


def make_registry(group: str | None = None) -> Registry[Thing]:
    return Registry("thing", group, name_of=lambda t: t.name, item_type=Thing)


def test_register_and_get() -> None:
    reg = make_registry()
    reg.register(Thing("b"))
    reg.register(Thing("a"))
    assert reg.names() == ["a", "b"]
    assert reg.get("a") == Thing("a")
    assert "a" in reg and "z" not in reg


def test_unknown_name_lists_valid_names() -> None:
    reg = make_registry()
    reg.register(Thing("alpha"))
    with pytest.raises(UnknownNameError, match=r"unknown thing 'beta'; valid: alpha"):
        reg.get("beta")


def test_duplicate_is_an_error() -> None:
    reg = make_registry()
    reg.register(Thing("a"))
    with pytest.raises(HarnessError, match="duplicate thing 'a'"):
        reg.register(Thing("a"))


def test_wrong_type_is_rejected() -> None:
    with pytest.raises(HarnessError, match="expected Thing, got str"):
        make_registry().register("a")  # type: ignore[arg-type]


def install_fake_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, group: str,
                        entries: dict[str, str], module: str) -> None:
    """A dist-info folder and a module on sys.path: what ``pip install`` leaves behind."""
    dist = tmp_path / "fake_plugin-1.2.3.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-plugin\nVersion: 1.2.3\n")
    lines = "\n".join(f"{k} = {v}" for k, v in entries.items())
    (dist / "entry_points.txt").write_text(f"[{group}]\n{lines}\n")
    (tmp_path / "fake_plugin_mod.py").write_text(textwrap.dedent(module))
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("fake_plugin_mod", None)


def test_discovery_records_the_distribution(tmp_path: Path, monkeypatch) -> None:
    install_fake_plugin(tmp_path, monkeypatch, "test.things", {
        "many": "fake_plugin_mod:many", "one": "fake_plugin_mod:ONE"},
        f"""
        from {__name__} import Thing
        ONE = Thing("one")
        def many():
            return [Thing("two"), Thing("three")]
        """)
    reg = make_registry("test.things")
    assert reg.names() == ["one", "three", "two"]
    prov = reg.provenance("two")
    assert (prov.distribution, prov.version) == ("fake-plugin", "1.2.3")
    assert reg.problems == []


def test_broken_plugin_is_reported_and_skipped(tmp_path: Path, monkeypatch) -> None:
    install_fake_plugin(tmp_path, monkeypatch, "test.broken", {
        "bad_import": "fake_plugin_mod_missing:X", "bad_item": "fake_plugin_mod:NOT_A_THING",
        "good": "fake_plugin_mod:GOOD"},
        f"""
        from {__name__} import Thing
        GOOD = Thing("good")
        NOT_A_THING = 42
        """)
    reg = make_registry("test.broken")
    assert reg.names() == ["good"]
    reasons = {p.entry_point: p.reason for p in reg.problems}
    assert set(reasons) == {"bad_import", "bad_item"}
    assert "ModuleNotFoundError" in reasons["bad_import"]
    assert "expected Thing, got int" in reasons["bad_item"]


def test_strict_makes_a_broken_plugin_fatal(tmp_path: Path, monkeypatch) -> None:
    install_fake_plugin(tmp_path, monkeypatch, "test.strict",
                        {"bad": "fake_plugin_mod:BAD"}, "BAD = 'not a thing'\n")
    with pytest.raises(HarnessError, match="broken thing plugin: plugin 'bad' from fake-plugin"):
        make_registry("test.strict").discover(strict=True)


def test_plugin_cannot_shadow_a_builtin(tmp_path: Path, monkeypatch) -> None:
    install_fake_plugin(tmp_path, monkeypatch, "test.shadow", {"dup": "fake_plugin_mod:DUP"},
                        f"from {__name__} import Thing\nDUP = Thing('builtin')\n")
    reg = make_registry("test.shadow")
    reg.register(Thing("builtin"))
    assert reg.names() == ["builtin"]
    assert "duplicate thing 'builtin'" in reg.problems[0].reason
    assert reg.provenance("builtin").distribution == "encoder-harness"

