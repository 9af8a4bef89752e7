"""What every `lbs` command shares: the settings (read late, so `lbs --help` stays fast), the error
console, and the check that a database holds the current schema before a command writes to it."""

from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console

if TYPE_CHECKING:
    from lbs_service.settings import Settings
    from lbs_service.storage.db import Database

err = Console(stderr=True, soft_wrap=True)  # one message, one line: never wrapped mid-sentence


def settings() -> "Settings":
    from lbs_service.settings import get_settings

    return get_settings()


def fail(message: str, code: int = 2) -> NoReturn:
    """One line that says what went wrong (and what to do), no traceback."""
    err.print(f"[red]{message}[/red]", highlight=False)
    raise typer.Exit(code)


def database() -> "Database":
    """The configured database, once it holds the current schema; otherwise one line saying what to run
    (and, for the embedded file, nothing created on disk)."""
    from lbs_service.storage.db import Database
    from lbs_service.storage.migrate import schema_state

    config = settings()
    if not config.is_postgres and not config.sqlite_path.exists():
        fail(f"no database at {config.sqlite_path}: run `lbs db upgrade` first (or set LBS_DATABASE_URL)")
    state = schema_state(config)
    if state != "current":
        fail(f"the database has {state}: run `lbs db upgrade` first")
    return Database(config)
