# gunicorn settings for Ferry's web process (deploy/ferry-web.service passes this file
# with --config; so can any other way of starting gunicorn).
#
# The access log names the path without its query string (%(U)s, not %(r)s) and leaves
# out the Referer: Xero's sign-in comes back as /settings/xero/callback?code=…&state=…,
# and that code must not land in the journal. Searches typed into the pages stay out of
# it too.
import os

# One process with threads is enough for one MSP's finance people and keeps the whole
# installation under 256 MB at idle (bench/idle.py: two 71 MB worker processes made it
# 315 MB). The pages wait on the database, not the CPU, so threads serve them as well.
workers = int(os.environ.get("FERRY_WEB_WORKERS", "1"))
threads = int(os.environ.get("FERRY_WEB_THREADS", "4"))

accesslog = "-"
access_log_format = '%(h)s %(l)s %(u)s "%(m)s %(U)s %(H)s" %(s)s %(b)s "%(a)s" %(M)sms'

# gunicorn's own lines and the access log in Ferry's one format (admin/logs.py: the UTC
# time first, or JSON with FERRY_LOG_FORMAT=json), on stderr like every Ferry process.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": "INFO", "handlers": ["ferry"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": [], "propagate": True},
        "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": True},
    },
    "handlers": {"ferry": {"class": "logging.StreamHandler", "formatter": "ferry",
                           "stream": "ext://sys.stderr"}},
    "formatters": {"ferry": {"()": "admin.logs.formatter"}},
}
