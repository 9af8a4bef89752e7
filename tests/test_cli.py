"""The `lbs` command as a new user meets it: plain help with a sentence for every option and argument,
no `<bool>` on a flag, and one clear line (no traceback, no file left behind) when the database has no
schema yet or an argument cannot be used."""

import os
import subprocess
import sys

import typer

from lbs_service.cli import app


def _walk(command, path: str = "lbs"):
    """Every command under `command` (typer ships its own click: groups are known by their commands)."""
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _walk(sub, f"{path} {name}")


def test_every_command_option_and_argument_says_what_it_is():
    root = typer.main.get_command(app)
    missing = []
    for path, command in _walk(root):
        if not (command.help or "").strip():
            missing.append(path)
        for param in command.params:
            if param.name != "help" and not (getattr(param, "help", None) or "").strip():
                missing.append(f"{path} {param.name}")
    assert missing == []


def test_help_shows_flags_as_flags():
    root = typer.main.get_command(app)
    paths = [path for path, _ in _walk(root)]
    assert "lbs import stores" in paths and "lbs bench nearby" in paths  # the walk reaches every level
    for path, command in _walk(root):
        with command.context_class(command, info_name=path) as context:
            assert "<bool>" not in command.get_help(context), path


def _lbs(tmp_path, *args, **env):
    environment = {**os.environ, "LBS_DATABASE_URL": "", "LBS_REDIS_URL": "", **env}
    return subprocess.run([sys.executable, "-m", "lbs_service.cli", *args], capture_output=True, text=True,
                          env=environment, cwd=tmp_path, timeout=120)


def test_a_command_on_a_database_without_schema_says_what_to_run_and_leaves_nothing(tmp_path):
    stores = tmp_path / "stores.csv"
    stores.write_text("id,name,lat,lng\n1,A,32.0,118.0\n", encoding="utf-8")
    database = tmp_path / "new" / "lbs.sqlite3"
    run = _lbs(tmp_path, "import", "stores", str(stores), LBS_SQLITE_PATH=str(database))
    assert run.returncode == 2
    assert "lbs db upgrade" in run.stderr and "Traceback" not in run.stderr and len(run.stderr.splitlines()) <= 2
    assert not database.exists()
    assert _lbs(tmp_path, "db", "upgrade", LBS_SQLITE_PATH=str(database)).returncode == 0
    assert _lbs(tmp_path, "import", "stores", str(stores), LBS_SQLITE_PATH=str(database)).returncode == 0


def test_tokens_refuse_what_the_api_would_refuse(tmp_path):
    too_long = _lbs(tmp_path, "token", "user", "u" * 201)
    assert too_long.returncode == 2 and "200" in too_long.stderr and "Traceback" not in too_long.stderr
    assert _lbs(tmp_path, "token", "staff", "0").returncode == 2
    assert _lbs(tmp_path, "token", "user", "ann").stdout.count(".") == 2  # a JWT


def test_a_psycopg2_url_is_the_same_server_through_the_driver_we_ship():
    from lbs_service.settings import Settings

    settings = Settings(database_url="postgresql+psycopg2://lbs:lbs@127.0.0.1:5432/lbs")
    assert settings.effective_database_url == "postgresql+psycopg://lbs:lbs@127.0.0.1:5432/lbs"
