"""District boundaries (GeoJSON; a PostGIS geometry with a GiST index on PostgreSQL).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "districts",
        sa.Column("code", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("city", sa.String(200)),
        sa.Column("province", sa.String(200)),
        sa.Column("geometry", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Derived from the GeoJSON by the database, for spatial queries (coverage) to come.
        op.execute(
            "ALTER TABLE districts ADD COLUMN geom geometry(MultiPolygon, 4326) GENERATED ALWAYS AS "
            "(ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON(geometry::text), 4326))) STORED"
        )
        op.execute("CREATE INDEX ix_districts_geom ON districts USING gist (geom)")


def downgrade() -> None:
    op.drop_table("districts")
