"""The models are the schema: on PostGIS, what the migrations built and what the models declare
(GeoAlchemy2 geography and geometry columns, their GiST indexes included) are the same, so
`alembic revision --autogenerate` with GeoAlchemy2's helpers has nothing to write."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine

from lbs_service.storage.models import Base, District, Store

pytestmark = pytest.mark.postgis


def test_migrations_and_models_agree(pg_settings):
    engine = create_engine(pg_settings.effective_database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={
                "include_object": alembic_helpers.include_object, "compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_the_spatial_columns_are_geoalchemy2_types():
    assert type(Store.__table__.c.geog.type).__name__ == "Geography"
    assert type(District.__table__.c.geom.type).__name__ == "Geometry"
