"""The files in deploy/ a person copies onto a server: systemd accepts the units, and
every command they run is one Ferry has, with options it takes (no docker or systemd
service runs here; what can be checked without them is checked)."""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def flask_command_parses(app, words: list[str]) -> None:
    """`flask --app app WORDS…` names a command Ferry has, with arguments it accepts
    (parsed by click as the real command line would be, not run)."""
    assert words[:2] == ["--app", "app"], words
    group, rest = app.cli, words[2:]
    while True:
        command = group.get_command(None, rest[0])
        assert command is not None, f"no command {rest[0]!r} in {words}"
        rest = rest[1:]
        if not hasattr(command, "get_command"):
            break
        group = command
    command.make_context(command.name, list(rest), resilient_parsing=False)


def read_by_ferry(name: str) -> bool:
    """Whether Ferry's code (or its container entrypoint) reads the environment variable
    `name`."""
    sources = [ROOT / "config.py", ROOT / "app.py", ROOT / "deploy/docker/entrypoint.sh",
               ROOT / "deploy/gunicorn.conf.py",
               *ROOT.glob("admin/*.py"), *ROOT.glob("jobs/*.py")]
    texts = [p.read_text() for p in sources]
    return any(f'"{name}"' in t or f"${{{name}" in t or f"'{name}'" in t for t in texts)


def test_every_setting_in_the_env_file_is_one_ferry_reads():
    text = (DEPLOY / "ferry.env.example").read_text()
    names = re.findall(r"^#?([A-Z][A-Z0-9_]+)=", text, re.M)
    assert "FERRY_SECRET_KEY" in names and "FERRY_BACKUP_KEEP" in names
    for name in names:
        assert read_by_ferry(name) or name == "FERRY_BACKUP_KEEP" and \
            "${FERRY_BACKUP_KEEP}" in (DEPLOY / "ferry-backup.service").read_text(), name


def unit_exec_lines(path: Path) -> list[list[str]]:
    lines = []
    for line in path.read_text().splitlines():
        found = re.match(r"(ExecStart|ExecStartPre)=(.*)", line)
        if found:
            lines.append(shlex.split(found.group(2)))
    return lines


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is absent")
def test_systemd_accepts_the_units(tmp_path):
    units = sorted(DEPLOY.glob("ferry-*.service")) + sorted(DEPLOY.glob("ferry-*.timer"))
    assert any(u.name == "ferry-backup.timer" for u in units)
    for unit in units:
        shutil.copy(unit, tmp_path / unit.name)
    done = subprocess.run(["systemd-analyze", "verify", *[str(tmp_path / u.name) for u in units]],
                          capture_output=True, text=True, timeout=120)
    complaints = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()
                  # the programs live under /opt/ferry on the server, not here
                  and not re.search(r"Command /opt/ferry/app/\.venv/bin/\w+ is not executable",
                                    line)
                  # systemd 254+ keys, documented in the units (Debian 12 has 252)
                  and not re.search(r"Unknown key '(RestartSteps|RestartMaxDelaySec)'", line)]
    assert complaints == [], "\n".join(complaints)


def test_every_flask_command_in_the_units_exists(app):
    for unit in sorted(DEPLOY.glob("ferry-*.service")):
        for words in unit_exec_lines(unit):
            if words[0].endswith("/flask"):
                flask_command_parses(app, [w.replace("${FERRY_BACKUP_KEEP}", "14")
                                           for w in words[1:]])
