"""Every setting is listed in .env.example, and the file loads as it is (users copy it to .env)."""

import re
from pathlib import Path

from lbs_service.settings import Settings

EXAMPLE = Path(__file__).resolve().parents[1] / ".env.example"


def test_every_setting_is_in_env_example():
    listed = set(re.findall(r"^#? ?(LBS_[A-Z_0-9]+)=", EXAMPLE.read_text(), re.M))
    assert {f"LBS_{name.upper()}" for name in Settings.model_fields} <= listed


def test_env_example_loads_as_a_dotenv(monkeypatch):
    for name in Settings.model_fields:
        monkeypatch.delenv(f"LBS_{name.upper()}", raising=False)
    settings = Settings(_env_file=EXAMPLE)
    assert settings.fence_radius_m == 1000 and settings.exit_radius_m == 1100
    assert settings.rebate_gradient[-1] == (20_000_000, 5, 200) and settings.member_tiers["gold"] == 10
