"""The container path without Docker (none runs here): the compose file parses and names
only services, files, volumes, variables and commands that exist; the Dockerfile copies
files that exist, runs as a user of its own and starts roles the entrypoint has; and the
entrypoint itself, run directly with the environment compose gives it, starts the web
process, the worker and the scheduler against real PostgreSQL and Redis, answers the
healthchecks, and writes the nightly backup."""
from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx2
import pytest
import yaml

from tests.conftest import DATABASES
from tests.production.test_deploy_files import flask_command_parses, read_by_ferry

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_DIR = ROOT / "deploy" / "compose"
ENTRYPOINT = ROOT / "deploy" / "docker" / "entrypoint.sh"
BIN = Path(sys.executable).parent
FERRY_SERVICES = ("web", "worker", "scheduler", "backup")


def compose() -> dict:
    return yaml.safe_load((COMPOSE_DIR / "compose.yaml").read_text())


def entrypoint_roles() -> set[str]:
    text = ENTRYPOINT.read_text()
    case = text.split('case "$role" in', 1)[1].split("esac", 1)[0]
    return set(re.findall(r"^\s{4}([\w-]+)\)", case, re.M))


def env_example() -> dict:
    pairs = {}
    for line in (COMPOSE_DIR / "env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            pairs[name.strip()] = value
    return pairs


def test_compose_has_every_part_supervised_with_healthchecks():
    services = compose()["services"]
    assert set(services) == {"web", "worker", "scheduler", "backup", "postgres", "redis",
                             "caddy"}
    for name, service in services.items():
        assert service.get("restart") == "unless-stopped", name
        for needed, rule in (service.get("depends_on") or {}).items():
            assert needed in services, (name, needed)
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in services[needed], (name, needed)
    for name in ("web", "worker", "scheduler", "postgres", "redis"):
        assert services[name]["healthcheck"]["test"][0] == "CMD", name


def test_compose_references_only_what_exists(app):
    data = compose()
    services = data["services"]
    text = (COMPOSE_DIR / "compose.yaml").read_text()
    build = services["web"]["build"]
    assert (COMPOSE_DIR / build["context"] / build["dockerfile"]).resolve() == \
        ROOT / "Dockerfile"
    declared = set(data["volumes"])
    for name, service in services.items():
        for mount in service.get("volumes") or []:
            source = mount.split(":", 1)[0]
            if source.startswith("."):
                assert (COMPOSE_DIR / source).exists(), (name, source)
            else:
                assert source in declared, (name, source)
    # Every variable compose reads from .env is in env.example, or has a default.
    example = env_example()
    for name, rule in re.findall(r"\$\{(\w+)(:[-?][^}]*)?\}", text):
        assert name in example or rule.startswith(":-"), name
    for service in FERRY_SERVICES:
        assert services[service]["env_file"] == [{"path": ".env", "required": True}]
        environment = services[service]["environment"]
        for name in environment:
            assert read_by_ferry(name), (service, name)
        # the roles the entrypoint has, and the flask commands the healthchecks call
        assert services[service]["command"][0] in entrypoint_roles(), service
        test = services[service].get("healthcheck", {}).get("test", [])
        if test[1:2] == ["/app/deploy/docker/entrypoint.sh"] and test[2] == "flask":
            flask_command_parses(app, ["--app", "app", *test[3:]])
    for name in example:
        assert read_by_ferry(name) or name in ("FERRY_DOMAIN", "POSTGRES_PASSWORD"), name
    assert "FERRY_DOMAIN" in text and "POSTGRES_PASSWORD" in text
    # Caddy proxies to the web service on the port the entrypoint binds.
    caddyfile = (COMPOSE_DIR / "Caddyfile").read_text()
    assert "reverse_proxy web:8000" in caddyfile and "{$FERRY_DOMAIN}" in caddyfile
    assert "0.0.0.0:8000" in ENTRYPOINT.read_text()
    # The entrypoint's flask commands exist.
    for line in ENTRYPOINT.read_text().splitlines():
        words = shlex.split(line.strip().removeprefix("exec "), comments=True) \
            if line.strip().startswith(("exec flask --app", "flask --app")) else []
        if words and '"$@"' not in line:     # ${NAME:-default} as its default
            flask_command_parses(app, [re.sub(r"^\$\{\w+:-(.*)\}$", r"\1", w)
                                       for w in words[1:]])


def _dockerfile_instructions() -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1])
            for line in joined.splitlines() if line.strip() and not line.startswith("#")]


def test_dockerfile_copies_what_exists_installs_the_lock_and_runs_as_ferry():
    instructions = _dockerfile_instructions()
    for kind, rest in instructions:
        if kind != "COPY":
            continue
        words = rest.split()
        if words[0].startswith("--from=assets"):
            # What `npm ci` makes in the assets stage, from the pinned package-lock.json.
            assert "htmx.org" in (ROOT / "package-lock.json").read_text()
            assert words[1] == "/assets/node_modules/htmx.org/dist/htmx.min.js"
            if (ROOT / "node_modules").exists():
                assert (ROOT / "node_modules/htmx.org/dist/htmx.min.js").exists()
            continue
        for source in words[:-1]:
            assert (ROOT / source).exists(), source
            assert not re.search(r"(^|/)(\.env|instance|\.venv)$", source), source
    runs = " ".join(rest for kind, rest in instructions if kind == "RUN")
    assert "pip install --require-hashes -r requirements.lock" in runs
    assert "pip install --no-deps" in runs
    user = [rest for kind, rest in instructions if kind == "USER"]
    assert user and user[-1] not in ("root", "0")
    [entry] = [rest for kind, rest in instructions if kind == "ENTRYPOINT"]
    assert entry == '["/app/deploy/docker/entrypoint.sh"]'
    assert os.access(ENTRYPOINT, os.X_OK)
    [cmd] = [rest for kind, rest in instructions if kind == "CMD"]
    assert yaml.safe_load(cmd)[0] in entrypoint_roles()
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", "deploy/compose/.env", "instance", ".venv", ".git"} <= set(ignored)


# -- the entrypoint, run as the containers run it ---------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def compose_env(tmp_path, request, redis_url):
    """The environment compose gives the Ferry containers (compose.yaml's and
    env.example's), with the database and Redis services at this machine's addresses."""
    if "postgresql" in DATABASES:
        database_url = request.getfixturevalue("postgres_databases").create()
    else:
        database_url = f"sqlite:///{tmp_path / 'ferry.db'}"
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FERRY_", "DATABASE_URL", "REDIS_URL"))}
    env.update({k: v for k, v in env_example().items() if k.startswith("FERRY_") and v})
    env.update({
        "PATH": f"{BIN}:{env.get('PATH', '/usr/bin:/bin')}",   # the image's /venv/bin
        "FERRY_INSTANCE_DIR": str(tmp_path / "instance"),
        "FERRY_BACKUP_DIR": str(tmp_path / "backups"),
        "DATABASE_URL": database_url, "REDIS_URL": redis_url,
        "FERRY_BASE_URL": "https://ferry.your-msp.example", "FERRY_PROXY_FIX": "1",
        "FERRY_PROXY_TRUSTED": "172.28.57.0/24",
        "FERRY_SECRET_KEY": "K3v7-container-test-key-9f2c4e1a8b6d0e5f7a3c9b1d4e6f8a0c2",
        "FERRY_BIND": f"127.0.0.1:{port}", "FERRY_WEB_WORKERS": "1",
        "FERRY_SMTP_HOST": "",
    })
    (tmp_path / "backups").mkdir()
    env["_PORT"] = str(port)
    return env


def _run(env, *args, timeout=120):
    return subprocess.run([str(ENTRYPOINT), *args], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd="/")


def test_the_entrypoint_refuses_without_a_secret_key_and_names_its_roles(compose_env):
    env = dict(compose_env, FERRY_SECRET_KEY="")
    done = _run(env, "web")
    assert done.returncode == 1 and "FERRY_SECRET_KEY is not set" in done.stderr
    done = _run(compose_env, "nonsense")
    assert done.returncode == 2 and "Unknown role 'nonsense'" in done.stderr


@pytest.mark.slow
def test_the_entrypoint_runs_each_role_with_the_compose_environment(compose_env, tmp_path):
    env = compose_env
    port = env["_PORT"]
    procs = {}
    logs = {}

    def start(role, extra=None):
        logs[role] = tmp_path / f"{role}.log"
        with open(logs[role], "w") as out:
            procs[role] = subprocess.Popen([str(ENTRYPOINT), role], env={**env, **(extra or {})},
                                           stdout=out, stderr=subprocess.STDOUT, cwd="/",
                                           start_new_session=True)

    def wait_for(check, what, seconds=90):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.5)
        raise AssertionError(f"{what} did not happen:\n" + "\n".join(
            f"--- {k}\n{v.read_text()[-2000:]}" for k, v in logs.items()))

    def healthz():
        try:
            return httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=2).json()
        except (httpx2.HTTPError, ValueError):
            return None

    try:
        start("web")                        # migrates, then gunicorn
        wait_for(lambda: healthz() is not None, "the web process answering")
        start("worker")
        start("scheduler")
        wait_for(lambda: (healthz() or {}).get("status") == "ok", "worker and scheduler up")
        from version import version
        assert healthz()["version"] == version()
        # The compose healthchecks, as Docker runs them inside each container.
        assert _run(env, "flask", "alive", "worker").returncode == 0
        assert _run(env, "flask", "alive", "scheduler").returncode == 0
        made = _run(env, "flask", "create-admin", "--email", "ops@msp.example",
                    "--password", "a long enough secret")
        assert made.returncode == 0, made.stderr

        # The nightly backup at its time (a few seconds from now, to the second).
        at = (datetime.now(timezone.utc) + timedelta(seconds=4)).strftime("%H:%M:%S")
        start("backup", {"FERRY_BACKUP_AT": at})
        wait_for(lambda: "is sound" in logs["backup"].read_text(), "the nightly backup")
        [folder] = list((tmp_path / "backups").iterdir())
        assert (folder / "manifest.json").exists()
        assert "Next backup at" in logs["backup"].read_text()
        once = _run(env, "backup-once")
        assert once.returncode == 0 and "is sound" in once.stdout, once.stderr
        assert len(list((tmp_path / "backups").iterdir())) == 2

        # A stopped worker fails its healthcheck (compose restarts a process that exits).
        os.killpg(procs["worker"].pid, signal.SIGTERM)
        procs.pop("worker").wait(timeout=60)
        gone = _run(env, "flask", "alive", "worker")
        assert gone.returncode == 1 and "No worker on this host" in gone.stderr
    finally:
        for proc in procs.values():
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for proc in procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    text = "\n".join(p.read_text() for p in logs.values())
    assert "Traceback" not in text, text[-4000:]
