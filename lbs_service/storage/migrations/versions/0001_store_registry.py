"""Store registry: merchants, stores, the change feed; PostGIS geography + GiST on PostgreSQL.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "merchants",
        sa.Column("id", Id, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_table(
        "stores",
        sa.Column("id", Id, primary_key=True),
        sa.Column("merchant_id", sa.BigInteger, sa.ForeignKey("merchants.id"), nullable=False, index=True),
        sa.Column("source_id", sa.String(200), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("category", sa.String(100), nullable=False),
        sa.Column("address", sa.String(500)),
        sa.Column("phone", sa.String(50)),
        sa.Column("hours", sa.JSON),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.Column("lat", sa.Float, nullable=False),
        sa.Column("lng", sa.Float, nullable=False),
        sa.Column("h3_r9", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint("merchant_id", "source_id", name="uq_stores_merchant_source"),
    )
    op.create_index("ix_stores_h3_r9", "stores", ["h3_r9"])
    if postgres:
        # Derived from lat/lng by the database itself, so it can never disagree with them.
        op.execute(
            "ALTER TABLE stores ADD COLUMN geog geography(Point, 4326) "
            "GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lng, lat), 4326)::geography) STORED"
        )
        op.execute("CREATE INDEX ix_stores_geog ON stores USING gist (geog)")
    op.create_table(
        "store_changes",
        sa.Column("seq", Id, primary_key=True),
        sa.Column("store_id", sa.BigInteger, nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("store_changes")
    op.drop_table("stores")
    op.drop_table("merchants")
