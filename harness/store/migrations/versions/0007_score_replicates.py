"""Every run's bootstrap draws of its overall and Table 5 scores, for intervals over seeds
and paired comparisons (``harness compare``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "score_replicates",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_key", sa.String(64), sa.ForeignKey("runs.key", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("benchmark", sa.String(100), nullable=False),
        sa.Column("metric", sa.String(100), nullable=False),
        sa.Column("subset", sa.String(200), nullable=False),
        sa.Column("units", sa.String(16), nullable=False),
        sa.Column("resamples", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("draws", sa.LargeBinary(), nullable=False),
        sa.UniqueConstraint("run_key", "benchmark", "metric", "subset",
                            name="uq_score_replicates_run_metric"),
    )
    op.create_index("ix_score_replicates_run_key", "score_replicates", ["run_key"])


def downgrade() -> None:
    op.drop_index("ix_score_replicates_run_key", table_name="score_replicates")
    op.drop_table("score_replicates")
