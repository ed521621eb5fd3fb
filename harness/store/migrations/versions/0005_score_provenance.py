"""Score provenance from the result contract: what kind of number a score is (measured,
published, external, proxy), who scored it, its confidence interval and its metric's range.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every score stored before this revision was measured by the harness itself.
    op.add_column("scores", sa.Column("kind", sa.String(20), nullable=False,
                                      server_default="measured"))
    op.add_column("scores", sa.Column("scorer", sa.String(100), nullable=False,
                                      server_default="harness"))
    for name in ("ci_low", "ci_high", "range_min", "range_max"):
        op.add_column("scores", sa.Column(name, sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scores") as batch:
        for name in ("range_max", "range_min", "ci_high", "ci_low", "scorer", "kind"):
            batch.drop_column(name)
