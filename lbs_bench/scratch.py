"""Scratch PostGIS databases the benchmarks create for themselves, and drop when done."""

import contextlib
from collections.abc import Iterator

import psycopg

POSTGIS_TEMPLATE = "template_postgis"  # the customary template: lets a non-superuser get PostGIS


def scratch_database(server_url: str, name: str) -> str:
    """Drop and create `name` on the server of `server_url`, with PostGIS; returns its plain URL.

    Cloned from `template_postgis` when the server has it; otherwise PostGIS is created in the new
    database, which needs a role allowed to create the extension.
    """
    plain = server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as admin:
        has_template = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s AND datistemplate",
                                     (POSTGIS_TEMPLATE,)).fetchone()
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}" + (f" TEMPLATE {POSTGIS_TEMPLATE}" if has_template else ""))
    base = plain.rsplit("/", 1)[0]
    if not has_template:
        with psycopg.connect(f"{base}/{name}", autocommit=True) as db:
            db.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    return f"{base}/{name}"


@contextlib.contextmanager
def scratch(server_url: str, name: str) -> Iterator[str]:
    """A fresh database for the length of a benchmark (a million-store one takes half a gigabyte)."""
    url = scratch_database(server_url, name)
    try:
        yield url
    finally:
        plain = server_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(plain, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
