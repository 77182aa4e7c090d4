"""``pushgate app``: keys shown once, working at once, and rotatable."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx


def _pushgate(database_url: str, tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PUSHGATE_DATABASE_URL": database_url,
        "PUSHGATE_SECRET_KEY": "test-secret-key-" + "x" * 16,
        "PUSHGATE_DATA_DIR": str(tmp_path),
        "PUSHGATE_LOG_LEVEL": "WARNING",
    }
    return subprocess.run(
        [sys.executable, "-m", "pushgate", "app", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


def test_create_list_rotate(database_url, live_server, tmp_path) -> None:
    created = _pushgate(
        database_url,
        tmp_path,
        "create",
        "--name",
        "Shop",
        "--callback-url",
        "https://shop.example/authy/callback",
    )
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert len(key) >= 40 and " " not in key

    details = httpx.get(
        live_server.base_url + "/protected/json/app/details",
        headers={"X-Authy-API-Key": key},
    )
    assert details.status_code == 200
    app_id = details.json()["app"]["app_id"]

    listed = _pushgate(database_url, tmp_path, "list")
    assert listed.returncode == 0
    assert "Shop" in listed.stdout
    assert "https://shop.example/authy/callback" in listed.stdout
    assert key not in listed.stdout

    rotated = _pushgate(database_url, tmp_path, "rotate-key", str(app_id))
    assert rotated.returncode == 0, rotated.stderr
    new_key = rotated.stdout.strip().splitlines()[-1]
    assert new_key != key

    def status(api_key: str) -> int:
        return httpx.get(
            live_server.base_url + "/protected/json/app/details",
            headers={"X-Authy-API-Key": api_key},
        ).status_code

    assert status(key) == 401
    assert status(new_key) == 200


def test_bad_input_is_explained(database_url, tmp_path) -> None:
    bad_url = _pushgate(
        database_url, tmp_path, "create", "--name", "X", "--callback-url", "ftp://x"
    )
    assert bad_url.returncode == 2
    assert "must be an http:// or https:// URL" in bad_url.stdout

    missing = _pushgate(database_url, tmp_path, "rotate-key", "987654")
    assert missing.returncode == 1
    assert "No application has id 987654" in missing.stdout

    deliveries = _pushgate(database_url, tmp_path, "deliveries", "--limit", "5")
    assert deliveries.returncode == 0
    assert "outcome" in deliveries.stdout
