"""Demand per H3 cell and day, by anonymised user.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "demand_cells",
        sa.Column("cell9", sa.BigInteger, primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("user_hash", sa.String(16), primary_key=True),
        sa.Column("cell8", sa.BigInteger, nullable=False, index=True),
    )
    op.create_index("ix_demand_cells_day", "demand_cells", ["day"])


def downgrade() -> None:
    op.drop_table("demand_cells")
