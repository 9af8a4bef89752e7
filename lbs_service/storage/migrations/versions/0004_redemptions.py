"""Redemptions, idempotency keys and the member event log.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "redemptions",
        sa.Column("id", Id, primary_key=True),
        sa.Column("coupon_id", sa.BigInteger, sa.ForeignKey("coupons.id"), nullable=False, unique=True),
        sa.Column("store_id", sa.BigInteger, nullable=False, index=True),
        sa.Column("staff", sa.String(200), nullable=False),
        sa.Column("redeemed_at", Stamp, server_default=sa.func.now(), nullable=False),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("id", Id, primary_key=True),
        sa.Column("scope", sa.String(300), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("response", sa.JSON, nullable=False),
        sa.Column("created_at", Stamp, server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint("scope", "key", name="uq_idempotency_scope_key"),
    )
    op.create_table(
        "member_events",
        sa.Column("id", Id, primary_key=True),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("store_id", sa.BigInteger),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("at", Stamp, server_default=sa.func.now(), nullable=False),
    )
    op.create_index("ix_member_events_user", "member_events", ["user_id", "id"])


def downgrade() -> None:
    for table in ("member_events", "idempotency_keys", "redemptions"):
        op.drop_table(table)
