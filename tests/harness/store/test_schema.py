"""Alembic migrations: they agree with the models, run forwards and back, adopt a database the
walking skeleton made, and refuse a revision from the future."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from harness.errors import HarnessError
from harness.store import Store
from harness.store.models import Base
from harness.store.schema import alembic_config, head_revision, upgrade

SKELETON_SQL = Path(__file__).parent / "data" / "skeleton_schema.sql"


# Alembic cannot compare indexes on expressions (``value DESC``): it would report the
# database's copy as one to remove. The test below checks that index by name instead.
EXPRESSION_INDEXES = {"ix_scores_ranked"}


def _compared(obj, name, type_, reflected, compare_to) -> bool:
    return not (type_ == "index" and name in EXPRESSION_INDEXES)


def schema_diff(store: Store) -> list:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": _compared})
        return compare_metadata(context, Base.metadata)


def test_models_and_migrations_agree(store: Store) -> None:
    assert store.revision() == head_revision()
    assert schema_diff(store) == []
    indexes = {ix["name"]: ix for ix in inspect(store.engine).get_indexes("scores")}
    assert indexes["ix_scores_ranked"]["column_names"][:3] == ["subset", "benchmark", "metric"]


def test_the_agreement_check_sees_a_drifted_model(store: Store) -> None:
    # The check above must be able to fail: a column the migrations never made shows up.
    with store.engine.begin() as conn:
        conn.execute(text("ALTER TABLE runs DROP COLUMN run_dir"))
    diff = schema_diff(store)
    assert any(d[0] == "add_column" and d[3].name == "run_dir" for d in diff)


def test_downgrade_to_nothing_and_back(store: Store) -> None:
    with store.engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    with store.engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    result = store.upgrade()
    assert (result.before, result.after) == (None, head_revision())
    assert schema_diff(store) == []


def test_upgrade_twice_is_a_no_op(store: Store) -> None:
    result = store.upgrade()
    assert not result.changed and result.after == head_revision()


def test_unknown_revision_is_a_clear_error(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(HarnessError, match="'9999'.*does not know.*upgrade the package"):
        store.upgrade()


def make_skeleton_db(path: Path) -> None:
    """A SQLite file exactly as the skeleton's create_all left it, with one run in it."""
    con = sqlite3.connect(path)
    con.executescript(SKELETON_SQL.read_text())
    con.execute("INSERT INTO encoders VALUES ('clip-tiny', 'clip', 'language', 'vit', 64, 10,"
                " 'timm', 'vit_tiny', NULL, 'encoder-harness', '0.1.0')")
    config = {"recipe": {"name": "frozen", "encoder": "frozen",
                         "stages": [{"name": "align"}, {"name": "finetune"}]}, "seed": 0}
    con.execute(
        "INSERT INTO runs VALUES ('k1', 'clip-tiny', 1, 1, 'frozen', 'tiny-llm', 'mlp2x_gelu',"
        " 0, 'smoke', 'done', ?, '2025-01-01 00:00:00', '2025-01-01 00:01:00', 60.0, 'h', '',"
        " '0.1.0', NULL, 'abc', '2025-01-01 00:02:00')", (json.dumps(config),))
    con.execute("INSERT INTO scores (run_key, benchmark, category, metric, subset, value, n,"
                " chance, benchmark_version, prompt_hash, label_patch, dataset_hash) VALUES"
                " ('k1', 'probe', 'Vision-Centric', 'accuracy', 'overall', 40.0, 100, 25.0,"
                " '1', 'p', '', 'd')")
    con.commit()
    con.close()


def test_a_skeleton_database_is_adopted_and_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    make_skeleton_db(path)
    store = Store(f"sqlite:///{path}", create=False)
    result = store.upgrade()
    assert result.stamped and (result.before, result.after) == (None, head_revision())
    assert schema_diff(store) == []
    [row] = store.leaderboard()
    assert (row["run_key"], row["value"], row["smoke"]) == ("k1", 40.0, True)
    detail = store.run("k1")
    # The data migration filled the new columns from the stored config.
    with store.session() as s:
        traits = s.execute(text("SELECT recipe_encoder, recipe_stages FROM runs")).one()
    assert tuple(traits) == ("frozen", 2)
    assert len(detail["config_hash"]) == 12 and detail["train"] == {}
    assert not store.upgrade().changed


def test_opening_a_store_upgrades_it(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    make_skeleton_db(path)
    assert Store(f"sqlite:///{path}").revision() == head_revision()


def test_create_false_leaves_an_empty_database_alone(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'x.db'}", create=False)
    assert store.revision() is None
    assert upgrade(store.engine).after == head_revision()
