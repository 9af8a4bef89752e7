"""Web Push: browsers' push subscriptions, the deliveries owed to them, and the service's own keys.

A delivery row is written in the transaction of the message it carries, so a push exists exactly
when what caused it committed; deleting a subscription deletes what was still owed to it.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "push_subscriptions",
        sa.Column("id", Id, primary_key=True),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("endpoint", sa.String(2048), nullable=False),
        sa.Column("p256dh", sa.String(100), nullable=False),
        sa.Column("auth", sa.String(50), nullable=False),
        sa.Column("expires_at", Stamp),
        sa.Column("created_at", Stamp, nullable=False),
        sa.UniqueConstraint("user_id", "endpoint", name="uq_push_subscriptions_user_endpoint"),
    )
    op.create_index("ix_push_subscriptions_user_id", "push_subscriptions", ["user_id"])
    op.create_table(
        "webpush_deliveries",
        sa.Column("id", Id, primary_key=True),
        sa.Column("subscription_id", Id, sa.ForeignKey("push_subscriptions.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("topic", sa.String(32), nullable=False),
        sa.Column("urgency", sa.String(8), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("due_at", Stamp, nullable=False),
        sa.Column("lease_until", Stamp),
        sa.Column("claimed_by", sa.String(32)),
        sa.Column("attempts", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("last_status", sa.SmallInteger),
        sa.Column("finished_at", Stamp),
    )
    op.create_index("ix_webpush_deliveries_due", "webpush_deliveries", ["state", "due_at"])
    op.create_index("ix_webpush_deliveries_subscription_id", "webpush_deliveries", ["subscription_id"])
    op.create_index("ix_webpush_deliveries_user_id", "webpush_deliveries", ["user_id"])
    op.create_table(
        "server_keys",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(4000), nullable=False),
        sa.Column("created_at", Stamp, nullable=False, server_default=sa.func.now()),
    )


def downgrade() -> None:
    op.drop_table("server_keys")
    op.drop_table("webpush_deliveries")
    op.drop_table("push_subscriptions")
