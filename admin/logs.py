"""Logs a person reads in journalctl or `docker compose logs`: one line per event, in one
format in every process (web, worker, scheduler, gunicorn itself, RQ, the commands).

Every line starts with the time in UTC, ISO 8601 to the millisecond, then the level and
the logger: `2026-12-07T07:00:03.512Z INFO ferry.cycle: invoice cycle 12 done …`.
FERRY_LOG_FORMAT=json writes one JSON object a line instead (time, level, logger,
message, and a cycle's counts as fields) for a log collector. RQ's own lines (a job
started, "Successfully completed", "Job OK", how long a result is kept: four lines per
job, ~8,000 a day from the periodic jobs alone) are quiet unless FERRY_RQ_LOG_LEVEL=INFO;
its warnings and errors still show, and each cycle writes its own line with its counts
(jobs/cycle_log.py).

The connectors' RedactingLogFilter already masks URLs and secrets in httpx2's own lines;
Ferry's lines carry counts and sentences, never a key or a token."""
from __future__ import annotations

import json
import logging
import os
import sys
from datetime import datetime, timezone

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FORMATS = ("text", "json")
# RQ's and rq-scheduler's loggers: their INFO lines are per job and per loop.
RQ_LOGGERS = ("rq.worker", "rq.scheduler", "rq.queue", "rq.job", "rq_scheduler.scheduler")


def _utc_time(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TextFormatter(logging.Formatter):
    """`2026-12-07T07:00:03.512Z INFO ferry.cycle: …` whatever the process."""

    def __init__(self):
        super().__init__(FORMAT)

    def formatTime(self, record, datefmt=None) -> str:
        return _utc_time(record)


class JsonFormatter(logging.Formatter):
    """One JSON object a line; a record's `ferry` extra (a cycle's counts) as fields."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"time": _utc_time(record), "level": record.levelname,
                "logger": record.name, "message": record.getMessage()}
        line.update(getattr(record, "ferry", None) or {})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def log_format() -> str:
    chosen = (os.environ.get("FERRY_LOG_FORMAT") or "text").strip().lower()
    return chosen if chosen in FORMATS else "text"


def formatter() -> logging.Formatter:
    """The formatter FERRY_LOG_FORMAT asks for (deploy/gunicorn.conf.py uses it too)."""
    return JsonFormatter() if log_format() == "json" else TextFormatter()


def rq_level() -> str:
    """FERRY_RQ_LOG_LEVEL, WARNING unless set (INFO brings RQ's per-job lines back)."""
    level = (os.environ.get("FERRY_RQ_LOG_LEVEL") or "WARNING").strip().upper()
    return level if level in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL") else "WARNING"


def configure_logging(app=None) -> logging.Logger:
    """One handler on the root logger (stderr, which systemd and docker keep) with
    Ferry's formatter, once per process; every library's logger goes through it.
    Returns Ferry's logger."""
    root = logging.getLogger()
    if not any(isinstance(h.formatter, (TextFormatter, JsonFormatter))
               for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(formatter())
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        if (os.environ.get("FERRY_LOG_FORMAT") or "text").strip().lower() not in FORMATS:
            logging.getLogger("ferry").warning(
                "FERRY_LOG_FORMAT=%s is neither text nor json: logging as text.",
                os.environ.get("FERRY_LOG_FORMAT"))
    for name in RQ_LOGGERS:
        logging.getLogger(name).setLevel(rq_level())
    logger = logging.getLogger("ferry")
    logger.setLevel(logging.INFO)
    logger.propagate = True
    return logger
