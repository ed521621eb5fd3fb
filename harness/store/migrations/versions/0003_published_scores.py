"""Published reference scores (a paper's figures and tables), kept apart from measured ones.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "published_scores",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("collection", sa.String(200), nullable=False),
        sa.Column("paper", sa.String(200), nullable=False),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("subject_kind", sa.String(50), nullable=False),
        sa.Column("encoder_id", sa.String(200), nullable=True),
        sa.Column("group", sa.String(50), nullable=False),
        sa.Column("supervision", sa.String(50), nullable=False),
        sa.Column("metric", sa.String(100), nullable=False),
        sa.Column("level", sa.String(20), nullable=False),
        sa.Column("category", sa.String(50), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("source", "subject", "metric", name="uq_published_scores_entry"),
    )
    op.create_index("ix_published_scores_collection", "published_scores", ["collection"])
    op.create_index("ix_published_scores_encoder_id", "published_scores", ["encoder_id"])


def downgrade() -> None:
    op.drop_table("published_scores")
