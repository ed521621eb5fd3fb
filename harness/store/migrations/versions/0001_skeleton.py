"""The walking skeleton's schema (encoders, runs, scores), as its create_all made it.

Databases made by the skeleton have no alembic_version table; the store stamps them with this
revision and upgrades them from here.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "encoders",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("group", sa.String(50), nullable=False),
        sa.Column("supervision", sa.String(50), nullable=False),
        sa.Column("architecture", sa.String(50), nullable=False),
        sa.Column("resolution", sa.Integer(), nullable=False),
        sa.Column("params", sa.Integer(), nullable=False),
        sa.Column("loader", sa.String(100), nullable=False),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("weights", sa.String(500), nullable=True),
        sa.Column("distribution", sa.String(200), nullable=False),
        sa.Column("distribution_version", sa.String(50), nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("encoder_id", sa.String(200), sa.ForeignKey("encoders.id"), nullable=False),
        sa.Column("tiny", sa.Boolean(), nullable=False),
        sa.Column("smoke", sa.Boolean(), nullable=False),
        sa.Column("recipe", sa.String(100), nullable=False),
        sa.Column("llm", sa.String(200), nullable=False),
        sa.Column("connector", sa.String(100), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("preset", sa.String(100), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("wall_seconds", sa.Float(), nullable=False),
        sa.Column("host", sa.String(200), nullable=False),
        sa.Column("job_id", sa.String(100), nullable=False),
        sa.Column("code_version", sa.String(100), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("record_hash", sa.String(64), nullable=False),
        sa.Column("ingested_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_runs_encoder_id", "runs", ["encoder_id"])
    op.create_index("ix_runs_smoke", "runs", ["smoke"])
    op.create_index("ix_runs_status", "runs", ["status"])
    op.create_table(
        "scores",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "run_key", sa.String(64), sa.ForeignKey("runs.key", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("benchmark", sa.String(100), nullable=False),
        sa.Column("category", sa.String(50), nullable=False),
        sa.Column("metric", sa.String(100), nullable=False),
        sa.Column("subset", sa.String(200), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("chance", sa.Float(), nullable=True),
        sa.Column("benchmark_version", sa.String(50), nullable=False),
        sa.Column("prompt_hash", sa.String(64), nullable=False),
        sa.Column("label_patch", sa.String(100), nullable=False),
        sa.Column("dataset_hash", sa.String(64), nullable=False),
        sa.UniqueConstraint(
            "run_key", "benchmark", "metric", "subset", name="uq_scores_run_metric"
        ),
    )
    op.create_index("ix_scores_run_key", "scores", ["run_key"])
    op.create_index("ix_scores_benchmark_subset", "scores", ["benchmark", "subset"])


def downgrade() -> None:
    op.drop_table("scores")
    op.drop_table("runs")
    op.drop_table("encoders")
