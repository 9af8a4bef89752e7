"""Visits: one row per (user, store) visit with its stages, replacing per-fix arrival keys.

An open visit (not yet left) is unique per (user, store): a visit started twice - a retried fix, a
worker that resumed from an older checkpoint - is one visit, and stage changes apply to it once
(`stage` only grows). Cards shown to staff are remembered on the visit.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "visits",
        sa.Column("id", Id, primary_key=True),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("store_id", sa.BigInteger, nullable=False),
        sa.Column("stage", sa.SmallInteger, nullable=False),  # 1 nearby, 2 approaching, 3 arrived, 4 left
        sa.Column("started_at", Stamp, nullable=False),
        sa.Column("approaching_at", Stamp),
        sa.Column("arrived_at", Stamp),
        sa.Column("left_at", Stamp),
        sa.Column("dwell_s", sa.Float),
        sa.Column("card_sent", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("updated_at", Stamp, nullable=False),
    )
    op.create_index("ix_visits_open", "visits", ["user_id", "store_id"], unique=True,
                    postgresql_where=sa.text("left_at IS NULL"), sqlite_where=sa.text("left_at IS NULL"))
    op.create_index("ix_visits_user", "visits", ["user_id"])
    op.create_index("ix_visits_store_started", "visits", ["store_id", "started_at"])
    op.drop_table("arrival_keys")


def downgrade() -> None:
    op.create_table(
        "arrival_keys",
        sa.Column("user_id", sa.String(200), primary_key=True),
        sa.Column("store_id", sa.BigInteger, primary_key=True),
        sa.Column("fix_ms", sa.BigInteger, primary_key=True),
    )
    op.drop_table("visits")
