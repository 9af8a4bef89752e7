"""Arrivals recorded once per (user, store, fix): a fix retried after a partial failure (the
arrival committed, the fence checkpoint not saved) does not alert the store twice.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "arrival_keys",
        sa.Column("user_id", sa.String(200), primary_key=True),
        sa.Column("store_id", sa.BigInteger, primary_key=True),
        sa.Column("fix_ms", sa.BigInteger, primary_key=True),  # the fix's own time, in ms since the epoch
    )
    op.create_index("ix_arrival_keys_fix_ms", "arrival_keys", ["fix_ms"])


def downgrade() -> None:
    op.drop_table("arrival_keys")
