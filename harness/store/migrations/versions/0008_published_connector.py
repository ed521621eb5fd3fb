"""The connector a published number was measured with (Cambrian-1's Table 2 ensembles:
interpolation and concatenation to 576 tokens, ``concat(grid=24)``).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("published_scores", sa.Column("connector", sa.String(100), nullable=False,
                                                server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("published_scores") as batch:
        batch.drop_column("connector")
