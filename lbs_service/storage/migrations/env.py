"""Alembic environment: runs migrations online against the configured URL."""

from alembic import context
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine, pool, text

from lbs_service.storage.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url must be set"
    connectable = create_engine(url, poolclass=pool.NullPool)
    with connectable.connect() as connection:
        # GeoAlchemy2's helpers: `alembic revision --autogenerate` renders the spatial columns and
        # their GiST indexes, and leaves PostGIS's own tables alone.
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                          include_object=alembic_helpers.include_object,
                          process_revision_directives=alembic_helpers.writer,
                          render_item=alembic_helpers.render_item)
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Replicas starting together run `lbs db upgrade` at once: one migrates, the others wait.
                connection.execute(text("SELECT pg_advisory_xact_lock(5516629)"))
            context.run_migrations()


run_migrations_online()
