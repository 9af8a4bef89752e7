"""Marketing tools: offers with value and audiences on campaigns, coupons spent on orders, bill
payments at outlets, a points ledger, and games (scratch cards and wheels) with an audit of plays.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("offer", sa.JSON))
        batch.add_column(sa.Column("audience", sa.JSON))
        batch.add_column(sa.Column("points_price", sa.Integer))
    with op.batch_alter_table("coupons") as batch:
        batch.add_column(sa.Column("order_id", sa.BigInteger))
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("coupon_id", sa.BigInteger))
        batch.add_column(sa.Column("discount_cents", sa.BigInteger, nullable=False, server_default="0"))
    op.create_table(
        "bill_payments",
        sa.Column("id", Id, primary_key=True),
        sa.Column("store_id", sa.BigInteger, nullable=False),
        sa.Column("staff", sa.String(200), nullable=False),
        sa.Column("utility", sa.String(16), nullable=False),
        sa.Column("account_hash", sa.String(64), nullable=False),
        sa.Column("amount_cents", sa.BigInteger, nullable=False),
        sa.Column("paid_at", Stamp, nullable=False),
    )
    op.create_index("ix_bill_payments_store_paid", "bill_payments", ["store_id", "paid_at"])
    op.create_table(
        "points_balances",
        sa.Column("user_id", sa.String(200), primary_key=True),
        sa.Column("balance", sa.BigInteger, nullable=False),
        sa.CheckConstraint("balance >= 0", name="ck_points_balance_not_negative"),
    )
    op.create_table(
        "points_entries",
        sa.Column("id", Id, primary_key=True),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("delta", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("ref", sa.String(64), nullable=False),
        sa.Column("at", Stamp, nullable=False),
        sa.UniqueConstraint("user_id", "reason", "ref", name="uq_points_entries_reason_ref"),
    )
    op.create_table(
        "games",
        sa.Column("id", Id, primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("merchant_id", sa.BigInteger),
        sa.Column("store_ids", sa.JSON),
        sa.Column("starts_at", Stamp, nullable=False),
        sa.Column("ends_at", Stamp, nullable=False),
        sa.Column("plays_per_user_per_day", sa.Integer, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
    )
    op.create_table(
        "game_prizes",
        sa.Column("id", Id, primary_key=True),
        sa.Column("game_id", sa.BigInteger, sa.ForeignKey("games.id"), nullable=False),
        sa.Column("campaign_id", sa.BigInteger, sa.ForeignKey("campaigns.id"), nullable=False),
        sa.Column("odds_bp", sa.Integer, nullable=False),
        sa.Column("stock", sa.Integer, nullable=False),
        sa.Column("won", sa.Integer, nullable=False),
        sa.CheckConstraint("won <= stock", name="ck_game_prizes_within_stock"),
    )
    op.create_index("ix_game_prizes_game_id", "game_prizes", ["game_id"])
    op.create_table(
        "game_play_days",
        sa.Column("game_id", sa.BigInteger, primary_key=True),
        sa.Column("user_id", sa.String(200), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("plays", sa.Integer, nullable=False),
    )
    op.create_table(
        "game_plays",
        sa.Column("id", Id, primary_key=True),
        sa.Column("game_id", sa.BigInteger, nullable=False),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("draw_bp", sa.Integer, nullable=False),
        sa.Column("prize_id", sa.BigInteger),
        sa.Column("coupon_id", sa.BigInteger),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("played_at", Stamp, nullable=False),
    )
    op.create_index("ix_game_plays_game", "game_plays", ["game_id", "id"])
    op.create_index("ix_game_plays_user_id", "game_plays", ["user_id"])


def downgrade() -> None:
    for table in ("game_plays", "game_play_days", "game_prizes", "games", "points_entries", "points_balances",
                  "bill_payments"):
        op.drop_table(table)
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("discount_cents")
        batch.drop_column("coupon_id")
    with op.batch_alter_table("coupons") as batch:
        batch.drop_column("order_id")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("points_price")
        batch.drop_column("audience")
        batch.drop_column("offer")
