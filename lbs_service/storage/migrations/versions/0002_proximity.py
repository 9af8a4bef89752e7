"""Proximity push: consent ledger, user preferences, campaigns, sent promotions, the outbox.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "consents",
        sa.Column("id", Id, primary_key=True),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("granted", sa.Boolean, nullable=False),
        sa.Column("recorded_at", Stamp, server_default=sa.func.now(), nullable=False),
    )
    op.create_index("ix_consents_user_purpose", "consents", ["user_id", "purpose", "id"])
    op.create_table(
        "user_preferences",
        sa.Column("user_id", sa.String(200), primary_key=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("quiet_start", sa.String(5)),
        sa.Column("quiet_end", sa.String(5)),
    )
    op.create_table(
        "campaigns",
        sa.Column("id", Id, primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("merchant_id", sa.BigInteger),
        sa.Column("store_ids", sa.JSON),
        sa.Column("district", sa.String(64)),
        sa.Column("starts_at", Stamp, nullable=False),
        sa.Column("ends_at", Stamp, nullable=False),
        sa.Column("budget", sa.Integer),
        sa.Column("per_user_limit", sa.Integer, nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("claimed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", Stamp, server_default=sa.func.now(), nullable=False),
    )
    op.create_table(
        "promotions",
        sa.Column("id", Id, primary_key=True),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("store_id", sa.BigInteger, nullable=False),
        sa.Column("campaign_id", sa.BigInteger, nullable=False),
        sa.Column("local_day", sa.String(10), nullable=False),
        sa.Column("sent_at", Stamp, server_default=sa.func.now(), nullable=False),
    )
    op.create_index("ix_promotions_user_day", "promotions", ["user_id", "local_day"])
    op.create_table(
        "outbox",
        sa.Column("id", Id, primary_key=True),
        sa.Column("channel", sa.String(220), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("created_at", Stamp, server_default=sa.func.now(), nullable=False),
        sa.Column("relayed_at", Stamp),
    )
    op.create_index("ix_outbox_unrelayed", "outbox", ["id"], postgresql_where=sa.text("relayed_at IS NULL"),
                    sqlite_where=sa.text("relayed_at IS NULL"))


def downgrade() -> None:
    for table in ("outbox", "promotions", "campaigns", "user_preferences", "consents"):
        op.drop_table(table)
