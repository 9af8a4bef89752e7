"""64-bit money, a payment ledger, and outbox rows that know whose they are.

Money columns become BIGINT (a 30,000-yuan item times 1,000 overflows 32 bits). The payment
ledger records every charge and refund once per order, so a payment that lands on an order
already cancelled is recorded and refunded, never kept. Outbox rows carry the user they are
about and the id the stream gave them, so erasing a user's location data reaches them too.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.alter_column("total_cents", type_=sa.BigInteger, existing_type=sa.Integer, existing_nullable=False)
    with op.batch_alter_table("order_lines") as batch:
        batch.alter_column("price_cents", type_=sa.BigInteger, existing_type=sa.Integer, existing_nullable=False)
    with op.batch_alter_table("skus") as batch:
        batch.alter_column("price_cents", type_=sa.BigInteger, existing_type=sa.Integer, existing_nullable=False)
    op.create_table(
        "payments",
        sa.Column("id", Id, primary_key=True),
        sa.Column("order_id", sa.BigInteger, sa.ForeignKey("orders.id"), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),  # charge | refund
        sa.Column("amount_cents", sa.BigInteger, nullable=False),
        sa.Column("at", Stamp, nullable=False),
        sa.UniqueConstraint("order_id", "kind", name="uq_payments_order_kind"),
    )
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("subject", sa.String(200)))  # the user the message is about, if any
        batch.add_column(sa.Column("stream_id", sa.BigInteger))  # the id the channel's stream gave it
    op.create_index("ix_outbox_subject", "outbox", ["subject"])


def downgrade() -> None:
    op.drop_index("ix_outbox_subject", "outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("stream_id")
        batch.drop_column("subject")
    op.drop_table("payments")
