"""An index in the leaderboard's order (subset, benchmark, metric, value descending), so a
page of the leaderboard reads its rows in order instead of sorting every score.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_scores_ranked", "scores",
                    ["subset", "benchmark", "metric", sa.text("value DESC"), "run_key"])


def downgrade() -> None:
    op.drop_index("ix_scores_ranked", table_name="scores")
