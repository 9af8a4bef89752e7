"""Persistence: SQLAlchemy models, the engine, migrations and repositories."""
