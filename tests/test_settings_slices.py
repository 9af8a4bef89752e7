"""Components are given their slice of the settings, not all of them: only the wiring and the entry
points import the whole Settings class; signing, storage and the proximity engine take theirs."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "lbs_service"
WHOLE = {"app.py", "services.py", "settings.py", "cli"}  # the wiring, the entry points, the class itself


def _importers_of_settings() -> set[str]:
    found = set()
    for path in ROOT.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "lbs_service.settings" and any(
                    alias.name == "Settings" for alias in node.names):
                found.add(path.relative_to(ROOT).parts[0])
    return found


def test_only_the_wiring_holds_every_setting():
    importers = _importers_of_settings()
    assert importers <= WHOLE, importers - WHOLE
    assert {"app.py", "services.py"} <= importers  # the check reads real imports


def test_the_slices_match_the_settings_they_are_cut_from():
    from lbs_service.auth import Principal, mint_token, read_token
    from lbs_service.settings import DatabaseSettings, Settings, SigningSettings

    settings = Settings(env="development", database_url="", sqlite_path=Path("/tmp/unused.sqlite3"))
    signing: SigningSettings = settings
    database: DatabaseSettings = settings
    assert read_token(signing, mint_token(signing, Principal("user", "u-1", None))).subject == "u-1"
    assert database.effective_database_url.startswith("sqlite:///") and not database.is_postgres
