"""The web process as a WSGI server loads it: garbage collection tuned for many short-lived objects."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_web_process_freezes_what_it_loaded_and_collects_young_objects_less_often(tmp_path):
    probe = (
        "import gc, json, portal.wsgi as w; "
        "print(json.dumps({'thresholds': gc.get_threshold(), 'frozen': gc.get_freeze_count(), "
        "'expected': w.WEB_GC_THRESHOLDS}))"
    )
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "DJANGO_SETTINGS_MODULE": ""}
    env.pop("DJANGO_SETTINGS_MODULE")
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["thresholds"] == [10_000, 10, 100] == seen["expected"]
    # Django and the apps, loaded at start, are out of the collector's way.
    assert seen["frozen"] > 50_000
