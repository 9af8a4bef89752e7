"""Catalogue, stock per store, orders for pickup.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "skus",
        sa.Column("id", Id, primary_key=True),
        sa.Column("merchant_id", sa.BigInteger, sa.ForeignKey("merchants.id"), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("price_cents", sa.Integer, nullable=False),
        sa.UniqueConstraint("merchant_id", "code", name="uq_skus_merchant_code"),
    )
    op.create_table(
        "stock",
        sa.Column("store_id", sa.BigInteger, sa.ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("sku_id", sa.BigInteger, sa.ForeignKey("skus.id"), primary_key=True, index=True),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.CheckConstraint("quantity >= 0", name="ck_stock_not_negative"),
    )
    op.create_table(
        "orders",
        sa.Column("id", Id, primary_key=True),
        sa.Column("user_id", sa.String(200), nullable=False, index=True),
        sa.Column("store_id", sa.BigInteger, nullable=False, index=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total_cents", sa.Integer, nullable=False),
        sa.Column("payment_ref", sa.String(64), nullable=False, unique=True),
        sa.Column("pickup_code", sa.String(32), nullable=False, unique=True),
        sa.Column("created_at", Stamp, server_default=sa.func.now(), nullable=False),
        sa.Column("paid_at", Stamp),
        sa.Column("ready_at", Stamp),
        sa.Column("picked_up_at", Stamp),
        sa.Column("closed_at", Stamp),
    )
    op.create_table(
        "order_lines",
        sa.Column("order_id", sa.BigInteger, sa.ForeignKey("orders.id"), primary_key=True),
        sa.Column("sku_id", sa.BigInteger, sa.ForeignKey("skus.id"), primary_key=True),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("price_cents", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    for table in ("order_lines", "orders", "stock", "skus"):
        op.drop_table(table)
