"""What every RQ job runs inside: Ferry's configuration and its own DB connection.

RQ forks a work horse per job, so a job never shares a connection with its parent:
`job_context()` builds the app once per process and opens and closes a connection
around the job.
"""
import functools
from contextlib import contextmanager

from models import db

_app = None


def _application():
    global _app
    if _app is None:
        from app import create_app
        _app = create_app()
    return _app


@contextmanager
def job_context():
    app = _application()
    with app.app_context(), db.connection_context():
        yield app


def in_job_context(func):
    """Decorator for job functions: run `func` with the app and a connection open."""
    @functools.wraps(func)
    def run(*args, **kwargs):
        with job_context():
            return func(*args, **kwargs)
    return run
