"""Reviews after a visit, and each store's running rating.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("stores") as batch:
        batch.add_column(sa.Column("rating_count", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("rating_sum", sa.Integer, nullable=False, server_default="0"))
    op.create_table(
        "reviews",
        sa.Column("id", Id, primary_key=True),
        sa.Column("user_id", sa.String(200), nullable=False, index=True),
        sa.Column("store_id", sa.BigInteger, nullable=False, index=True),
        sa.Column("visit_kind", sa.String(16), nullable=False),
        sa.Column("visit_id", sa.BigInteger, nullable=False),
        sa.Column("rating", sa.Integer, nullable=False),
        sa.Column("text", sa.String(2000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint("visit_kind", "visit_id", name="uq_reviews_visit"),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name="ck_reviews_rating"),
    )


def downgrade() -> None:
    op.drop_table("reviews")
    with op.batch_alter_table("stores") as batch:
        batch.drop_column("rating_sum")
        batch.drop_column("rating_count")
