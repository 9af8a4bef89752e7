"""Revoked token subjects: every token of the subject issued up to `revoked_before` is refused.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "token_revocations",
        sa.Column("subject", sa.String(200), primary_key=True),
        sa.Column("revoked_before", sa.BigInteger, nullable=False),  # unix seconds, compared with a token's iat
        sa.Column("reason", sa.String(500), nullable=False, server_default=""),
        sa.Column("revoked_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("token_revocations")
