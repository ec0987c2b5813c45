"""Settings come from the environment, and a bad value stops start-up with a clear message."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]


def start(env: dict[str, str]) -> subprocess.CompletedProcess:
    """Starts Django in a fresh process with only these settings in the environment."""
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL"}}
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)",
        ],
        cwd=PROJECT,
        env=clean | {"DJANGO_SETTINGS_MODULE": "portal.settings"} | env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_embedded_default_starts_with_nothing_set():
    result = start({})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_refuses_to_start_without_secret_key_when_debug_is_off():
    result = start({"DEBUG": "false"})
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off." in result.stderr


def test_starts_with_debug_off_and_a_secret_key():
    result = start({"DEBUG": "false", "SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "portal.example.org"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DEBUG", "ture", "DEBUG must be true or false, not 'ture'."),
        ("MAX_UPLOAD_SIZE_MB", "lots", "MAX_UPLOAD_SIZE_MB must be a whole number, not 'lots'."),
        ("MAX_UPLOAD_SIZE_MB", "0", "MAX_UPLOAD_SIZE_MB must be greater than zero, not 0."),
        ("MEDIA_STORAGE", "ftp", "MEDIA_STORAGE must be one of local, s3, not 'ftp'."),
    ],
)
def test_a_bad_value_stops_start_up_naming_it(name, value, message):
    result = start({name: value})
    assert result.returncode != 0
    assert message in result.stderr


def test_s3_storage_needs_a_bucket():
    result = start({"MEDIA_STORAGE": "s3"})
    assert result.returncode != 0
    assert "S3_BUCKET" in result.stderr


def test_upload_limit_defaults_to_25_mb(settings):
    assert settings.MAX_UPLOAD_SIZE == 25 * 1024 * 1024


def example_settings() -> dict[str, str]:
    """NAME -> value for every line of `.env.example`, commented-out examples included."""
    found = {}
    for line in (PROJECT / ".env.example").read_text().splitlines():
        match = re.match(r"^#? ?([A-Z][A-Z0-9_]+)=(.*)$", line)
        if match:
            found[match[1]] = match[2]
    return found


def test_env_example_lists_every_setting_the_portal_reads():
    source = (PROJECT / "portal" / "settings.py").read_text()
    read = set(re.findall(r"env(?:\.\w+|_\w+)\(\s*\"([A-Z][A-Z0-9_]+)\"", source))
    assert read, "no settings found: the pattern no longer matches settings.py"
    assert read == set(example_settings())


def test_the_example_values_that_are_switched_on_start_the_portal():
    switched_on = {}
    for line in (PROJECT / ".env.example").read_text().splitlines():
        match = re.match(r"^([A-Z][A-Z0-9_]+)=(.*)$", line)
        if match:
            switched_on[match[1]] = match[2]
    result = start(switched_on)
    assert result.returncode == 0, result.stderr


@pytest.mark.django_db
def test_postgresql_connections_run_without_jit():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL setting; CI runs this on PostgreSQL")
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone() == ("off",)
