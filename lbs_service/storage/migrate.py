"""`lbs db upgrade`: Alembic, driven from code so no alembic.ini has to be found on disk."""

from pathlib import Path

from alembic import command
from alembic.config import Config

from lbs_service.settings import DatabaseSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(settings: DatabaseSettings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", settings.effective_database_url.replace("%", "%%"))
    return config


def schema_state(settings: DatabaseSettings) -> str:
    """"current", "no schema yet" or "an older schema" (compares the database with the migrations)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine, pool

    head = ScriptDirectory.from_config(alembic_config(settings)).get_current_head()
    engine = create_engine(settings.effective_database_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
    if current is None:
        return "no schema yet"
    return "current" if current == head else "an older schema"


def upgrade(settings: DatabaseSettings, revision: str = "head") -> None:
    if not settings.is_postgres:
        settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(settings), revision)
