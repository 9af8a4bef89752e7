"""A catalogue people can search, and outlet performance by store.

Each SKU keeps its code and name folded as text_match.py folds what a person types (NFKC, case
folded), so `GET /v1/skus?q=` is the same words-in-text predicate as nearby's `q=`, in SQL, on both
databases. Member events get an index by (store, time): the planner's performance layers count a
store's visits, redemptions and orders of the last days.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

from lbs_service.text_match import fold

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("skus") as batch:
        batch.add_column(sa.Column("search_text", sa.Text, nullable=False, server_default=""))
    skus = sa.table("skus", sa.column("id", sa.BigInteger), sa.column("code", sa.String),
                    sa.column("name", sa.String), sa.column("search_text", sa.String))
    connection = op.get_bind()
    rows = connection.execute(sa.select(skus.c.id, skus.c.code, skus.c.name)).all()
    for sku_id, code, name in rows:
        connection.execute(skus.update().where(skus.c.id == sku_id).values(search_text=fold(f"{code}\n{name}")))
    op.create_index("ix_member_events_store_at", "member_events", ["store_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_member_events_store_at", "member_events")
    with op.batch_alter_table("skus") as batch:
        batch.drop_column("search_text")
