"""How a score's interval was drawn: the bootstrap's resamples and seed.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for name in ("ci_resamples", "ci_seed"):
        op.add_column("scores", sa.Column(name, sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scores") as batch:
        for name in ("ci_seed", "ci_resamples"):
            batch.drop_column(name)
