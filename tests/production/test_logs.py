"""The logs a person reads: one line per cycle with its counts (a scheduled cycle logged
only RQ's "Successfully completed"), one timestamp format in every process (four before:
Ferry's, Flask's, RQ's and gunicorn's), JSON on request, and RQ's per-job chatter (four
lines a job, ~8,000 a day) quiet by default."""
from __future__ import annotations

import io
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from admin.logs import JsonFormatter, TextFormatter
from jobs.cycle import run_cycle

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR|CRITICAL) "
                   r"[\w.]+: ")
RQ_CHATTER = ("Successfully completed", "Job OK", "result is kept", "*** Listening on",
              "Acquired scheduler lock", "cleaning registries")


def capture(formatter) -> tuple[logging.Handler, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logging.getLogger("ferry.cycle").addHandler(handler)
    logging.getLogger("ferry.cycle").setLevel(logging.INFO)   # as configure_logging sets it
    return handler, stream


def test_each_cycle_ends_with_one_line_of_its_counts(ferry, xero):
    handler, stream = capture(TextFormatter())
    json_handler, json_stream = capture(JsonFormatter())
    try:
        run = run_cycle("invoice")
    finally:
        logging.getLogger("ferry.cycle").removeHandler(handler)
        logging.getLogger("ferry.cycle").removeHandler(json_handler)
        logging.getLogger("ferry.cycle").setLevel(logging.NOTSET)
    [line] = [x for x in stream.getvalue().splitlines() if f"cycle {run.id} done in" in x]
    assert STAMP.match(line), line
    assert (f"invoice cycle {run.id} done in " in line and
            f": read {run.read}, written {run.written}, exceptions {run.exceptions}; calls: "
            f"ConnectWise {run.cw_calls}, Xero {run.xero_calls} (" in line), line
    per_org = dict((name, int(n)) for name, n in re.findall(
        r"([A-Z][\w ]+?) (\d+)(?:,|\))", line.split(f"Xero {run.xero_calls} (", 1)[1]))
    from models import Connection
    assert set(per_org) == {c.name for c in Connection.select().where(
        Connection.kind == "xero")} and len(per_org) == 2, line
    assert sum(per_org.values()) == run.xero_calls and run.written > 0

    [record] = [json.loads(x) for x in json_stream.getvalue().splitlines()
                if json.loads(x).get("event") == "cycle"]
    assert record["type"] == "invoice" and record["run"] == run.id
    assert (record["read"], record["written"], record["exceptions"]) == (
        run.read, run.written, run.exceptions)
    assert record["xero_calls_by_org"] == per_org
    assert record["level"] == "INFO" and re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["time"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_processes(tmp_path, redis_url, extra_env: dict, seconds: float = 60) -> dict:
    """Ferry's worker, scheduler and gunicorn on a new installation, as the units start
    them, until the first cycles and the outbox job have run; their logs by name."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_LOG")}
    env.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'ferry.db'}", "REDIS_URL": redis_url,
                "FERRY_INSTANCE_DIR": str(tmp_path), **extra_env})
    subprocess.run([str(BIN / "flask"), "--app", "app", "db", "upgrade"], cwd=ROOT, env=env,
                   check=True, capture_output=True, timeout=120)
    port = _free_port()
    commands = {
        "worker": [str(BIN / "flask"), "--app", "app", "worker"],
        "scheduler": [str(BIN / "flask"), "--app", "app", "scheduler", "--interval", "1"],
        "web": [str(BIN / "gunicorn"), "--config", "deploy/gunicorn.conf.py", "--bind",
                f"127.0.0.1:{port}", "--workers", "1", "app:create_app()"],
    }
    procs, logs = {}, {}
    try:
        for name, command in commands.items():
            logs[name] = tmp_path / f"{name}.log"
            with open(logs[name], "w") as out:
                procs[name] = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out,
                                               stderr=subprocess.STDOUT)
        import httpx2
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            text = logs["worker"].read_text()
            if re.search(r"invoice cycle \d+ stopped in|\"type\": \"invoice\"", text):
                break
            time.sleep(0.5)
        for _ in range(50):
            try:
                httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx2.HTTPError:
                time.sleep(0.3)
    finally:
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return {name: path.read_text() for name, path in logs.items()}


@pytest.mark.slow
def test_processes_log_one_format_with_cycle_lines_and_no_rq_chatter(tmp_path, redis_url):
    logs = _run_processes(tmp_path, redis_url, {})
    worker = logs["worker"]
    for name, text in logs.items():
        lines = [line for line in text.splitlines() if line.strip()]
        assert lines, f"{name} wrote nothing"
        odd = [line for line in lines if not STAMP.match(line)]
        assert odd == [], f"{name}: {odd}"
        assert not [line for line in lines if any(c in line for c in RQ_CHATTER)], text
    # The first cycle (invoices) runs at once on a new installation; nothing is connected.
    assert re.search(r"WARNING ferry\.cycle: invoice cycle \d+ stopped in \d+\.\d s: read 0, "
                     r"written 0, exceptions 0; calls: ConnectWise 0, Xero 0", worker), worker
    assert "INFO ferry: Scheduler started" in logs["scheduler"]
    assert "gunicorn.access: 127.0.0.1" in logs["web"] and "GET /healthz" in logs["web"]
    assert "gunicorn.error: Booting worker" in logs["web"]


@pytest.mark.slow
def test_json_logs_and_rq_lines_on_request(tmp_path, redis_url):
    logs = _run_processes(tmp_path, redis_url, {"FERRY_LOG_FORMAT": "json",
                                                "FERRY_RQ_LOG_LEVEL": "INFO"})
    records = []
    for name, text in logs.items():
        for line in text.splitlines():
            if line.strip():
                records.append(json.loads(line))      # every line is one JSON object
    cycles = [r for r in records if r.get("event") == "cycle"]
    assert "invoice" in {r["type"] for r in cycles}
    assert all(r["status"] == "stopped" and r["read"] == 0 for r in cycles)
    # RQ's per-job lines come back with FERRY_RQ_LOG_LEVEL=INFO.
    assert any("Successfully completed" in r["message"] for r in records
               if r["logger"] == "rq.worker")
