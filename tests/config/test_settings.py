"""Settings come from the environment, with safe development defaults."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import json, config.settings as s;"
    "print(json.dumps({'debug': s.DEBUG, 'engine': s.DATABASES['default']['ENGINE'],"
    "'layer': s.CHANNEL_LAYERS['default']['BACKEND'], 'email': s.EMAIL_BACKEND,"
    "'hosts': s.ALLOWED_HOSTS, 'media': str(s.MEDIA_ROOT), 'secure': s.SESSION_COOKIE_SECURE,"
    "'layer_config': s.CHANNEL_LAYERS['default']['CONFIG'], 'ssl_redirect': s.SECURE_SSL_REDIRECT,"
    "'redirect_exempt': s.SECURE_REDIRECT_EXEMPT, 'log_dir': s.LOG_DIR, 'handlers': sorted(s.LOGGING['handlers'])}))"
)
SETTINGS_VARS = (
    "DEBUG SECRET_KEY ALLOWED_HOSTS DATABASE_URL REDIS_URL CLOUDINARY_URL MEDIA_ROOT EMAIL_BACKEND LOG_DIR"
).split()


def load_settings(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARS}
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_defaults_need_no_services():
    result = load_settings()
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["debug"] is True
    assert values["engine"] == "django.db.backends.sqlite3"
    assert values["layer"] == "realtime.layers.InMemoryChannelLayer"
    assert values["email"] == "django.core.mail.backends.console.EmailBackend"
    assert values["media"].endswith("media")


def test_environment_switches_to_real_services():
    result = load_settings(
        DATABASE_URL="postgres://u:p@db.example:5432/boost",
        REDIS_URL="redis://cache.example:6379/2",
        MEDIA_ROOT="/srv/media",
        ALLOWED_HOSTS="boostroom.example,www.boostroom.example",
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["engine"] == "django.db.backends.postgresql"
    assert values["layer"] == "channels_redis.core.RedisChannelLayer"
    host = values["layer_config"]["hosts"][0]
    assert host["address"] == "redis://cache.example:6379/2"
    assert host["max_connections"] >= 1000
    assert host["socket_timeout"] is None or host["socket_timeout"] > 5
    assert values["hosts"] == ["boostroom.example", "www.boostroom.example"]
    assert values["media"] == "/srv/media"


def test_log_dir_is_created_when_missing(tmp_path):
    log_dir = tmp_path / "not" / "there" / "yet"
    result = load_settings(LOG_DIR=str(log_dir))
    assert result.returncode == 0, result.stderr
    assert log_dir.is_dir()
    assert "realtime_file" in json.loads(result.stdout)["handlers"]


def test_production_requires_secret_key():
    result = load_settings(DEBUG="0", ALLOWED_HOSTS="boostroom.example")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_wildcard_hosts():
    result = load_settings(DEBUG="0", SECRET_KEY="x" * 60, ALLOWED_HOSTS="*")
    assert result.returncode != 0
    assert "ALLOWED_HOSTS may not contain '*'" in result.stderr


def test_production_is_secure_by_default():
    result = load_settings(DEBUG="false", SECRET_KEY="x" * 60, ALLOWED_HOSTS="boostroom.example")
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["debug"] is False and values["secure"] is True
    assert values["ssl_redirect"] is True
    assert values["redirect_exempt"] == [r"^healthz$"]


def test_check_deploy_is_clean_for_production_environment():
    clean = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARS}
    env = {
        **clean,
        # The site's own settings, not the suite's (pytest exports those).
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        "SECRET_KEY": "k3y-" + "a1b2c3d4e5" * 6,
        "ALLOWED_HOSTS": "boostroom.example",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.django_db
def test_configured_services_are_the_ones_in_use(settings):
    """In the CI run with services, prove the suite really used them."""
    from channels.layers import get_channel_layer
    from django.db import connection

    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        assert connection.vendor == "postgresql"
    else:
        assert connection.vendor == "sqlite"
    layer = get_channel_layer()
    expected = "RedisChannelLayer" if os.environ.get("REDIS_URL") else "InMemoryChannelLayer"
    assert type(layer).__name__ == expected


def test_readme_configuration_table_lists_every_environment_variable():
    source = (ROOT / "config" / "settings.py").read_text()
    read = set(re.findall(r"""(?:env_\w+|os\.environ\.get)\(\s*["']([A-Z][A-Z0-9_]*)["']""", source))
    assert {"DEBUG", "LOG_DIR", "UPLOAD_MAX_BYTES"} <= read  # the pattern finds them
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = {
        name
        for row in table.splitlines()
        if row.startswith("| `")
        for name in re.findall(r"`([A-Z_0-9]+)`", row.split("|")[1])
    }
    assert sorted(read - documented) == []
