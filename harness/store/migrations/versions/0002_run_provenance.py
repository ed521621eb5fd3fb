"""Run provenance for the API and dashboard: config hash, recipe traits, training stats, run
folder, a table of prediction files, and 64-bit parameter counts.

Existing runs get their recipe traits and config hash computed from their stored config.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs (no batch table rebuild): on SQLite a rebuild drops `runs`, and with
    # foreign keys on that would cascade into `scores`.
    op.add_column("runs", sa.Column("config_hash", sa.String(64), nullable=False,
                                    server_default=""))
    op.add_column("runs", sa.Column("recipe_encoder", sa.String(20), nullable=False,
                                    server_default=""))
    op.add_column("runs", sa.Column("recipe_stages", sa.Integer(), nullable=False,
                                    server_default="0"))
    op.add_column("runs", sa.Column("train", sa.JSON(), nullable=True))
    op.add_column("runs", sa.Column("run_dir", sa.Text(), nullable=False, server_default=""))
    op.create_index("ix_runs_setting", "runs", ["recipe", "llm", "connector"])
    op.create_table(
        "prediction_files",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "run_key", sa.String(64), sa.ForeignKey("runs.key", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("benchmark", sa.String(100), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.UniqueConstraint("run_key", "benchmark", name="uq_prediction_files_run_benchmark"),
    )
    op.create_index("ix_prediction_files_run_key", "prediction_files", ["run_key"])
    _backfill()
    if op.get_bind().dialect.name != "sqlite":
        # SQLite's INTEGER is already 64-bit (and altering it would rebuild the table).
        op.alter_column("encoders", "params", type_=sa.BigInteger(), existing_nullable=False)


def _backfill() -> None:
    runs = sa.table("runs", sa.column("key", sa.String), sa.column("config", sa.JSON),
                    sa.column("config_hash", sa.String), sa.column("recipe_encoder", sa.String),
                    sa.column("recipe_stages", sa.Integer), sa.column("train", sa.JSON))
    bind = op.get_bind()
    for key, config in bind.execute(sa.select(runs.c.key, runs.c.config)).all():
        config = config if isinstance(config, dict) else json.loads(config or "{}")
        recipe = config.get("recipe") or {}
        stages = recipe.get("stages") or []
        # The planner's stable_hash, frozen here so later changes to it cannot alter history.
        blob = json.dumps(config, sort_keys=True, separators=(",", ":"))
        bind.execute(
            runs.update().where(runs.c.key == key).values(
                config_hash=hashlib.sha256(blob.encode()).hexdigest()[:12],
                recipe_encoder=str(recipe.get("encoder") or ""),
                recipe_stages=len(stages) if isinstance(stages, list) else 0,
                train={},
            )
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("encoders", "params", type_=sa.Integer(), existing_nullable=False)
    op.drop_table("prediction_files")
    op.drop_index("ix_runs_setting", table_name="runs")
    for column in ("run_dir", "train", "recipe_stages", "recipe_encoder", "config_hash"):
        op.drop_column("runs", column)
