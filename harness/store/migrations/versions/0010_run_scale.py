"""A run says at what scale its real weights were trained: ``cpu`` (a small real LLM on
hundreds of samples: real, not comparable with paper-scale results) or ``full``.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("scale", sa.String(20), nullable=False,
                                    server_default="full"))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("scale")
