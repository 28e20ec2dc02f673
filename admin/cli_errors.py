"""Every `flask --app app …` command ends with a status a script can trust: 0 when it did
what it says, 1 otherwise, with one sentence saying what went wrong and what to do.

Commands raise click.ClickException with their own sentences; what none of them
foresees (the database or Redis unreachable, a schema not migrated) is turned into a
sentence here, by wrapping every registered command once the app has them all. A real
bug still prints its traceback (for the report) and ends with a sentence too.
"""
from __future__ import annotations

import functools
import logging
import os
from urllib.parse import urlsplit

import click

log = logging.getLogger("ferry.cli")


def where_database(url: str | None) -> str:
    """DATABASE_URL as a person can be told it: the kind and place, never a password."""
    url = url or ""
    if url.startswith("sqlite"):
        return f"the SQLite file {url.split(':///', 1)[-1]}"
    parts = urlsplit(url)
    host = parts.hostname or "the local socket"
    port = f":{parts.port}" if parts.port else ""
    return f"PostgreSQL database {parts.path.lstrip('/') or '?'} on {host}{port}"


def where_redis() -> str:
    url = os.environ.get("REDIS_URL")
    if not url:
        return "the private Redis in the instance folder"
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"Redis on the socket {parts.path}"
    return f"Redis at {parts.hostname}:{parts.port or 6379}"


def sentence_for(exc: BaseException, database_url: str | None) -> str | None:
    """The sentence for a failure a person can fix, or None for a bug."""
    import peewee
    import redis

    from jobs.queue import RedisUnavailable
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if isinstance(exc, RedisUnavailable):
        return str(exc)
    if isinstance(exc, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)):
        return (f"Ferry could not reach {where_redis()} ({first}). Check REDIS_URL and "
                "that Redis is running.")
    missing_table = ("no such table" in first or
                     ("relation" in first and "does not exist" in first))
    if isinstance(exc, peewee.DatabaseError) and missing_table:
        return (f"The database schema is not there yet in {where_database(database_url)} "
                f"({first}): run flask --app app db upgrade.")
    if isinstance(exc, (peewee.OperationalError, peewee.InterfaceError)):
        return (f"Ferry could not use its database, {where_database(database_url)} "
                f"({first}). Check DATABASE_URL and that the database server is running.")
    return None


def _database_url() -> str | None:
    """The running app's DATABASE_URL (the app context is open while a command runs)."""
    from flask import current_app
    try:
        return current_app.config.get("DATABASE_URL")
    except RuntimeError:
        import config
        return config.database_url()


def _guarded(callback):
    @functools.wraps(callback)
    def run(*args, **kwargs):
        try:
            return callback(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except Exception as exc:
            sentence = sentence_for(exc, _database_url())
            if sentence is None:
                log.exception("The command failed unexpectedly")
                sentence = (f"The command failed unexpectedly ({type(exc).__name__}); "
                            "the lines above say where.")
            raise click.ClickException(sentence) from exc
    return run


def guard_commands(group: click.Group) -> None:
    """Wrap every command of `group` (the app's CLI; its groups too), once: a
    blueprint's commands are shared by every app made in one process."""
    for command in group.commands.values():
        if isinstance(command, click.Group):
            guard_commands(command)
        elif command.callback is not None and not getattr(command.callback, "_ferry_guarded",
                                                             False):
            command.callback = _guarded(command.callback)
            command.callback._ferry_guarded = True
