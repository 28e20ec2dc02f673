"""Logs a person reads in journalctl: one line per event, time and level first.

Worker, scheduler and web all log to stderr (systemd keeps it in the journal). The
connectors' RedactingLogFilter already masks URLs and secrets in httpx2's own lines;
Ferry's lines carry counts and sentences, never a key or a token."""
import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(app=None) -> logging.Logger:
    """Ferry's logger ('ferry' and its children) on stderr at INFO, once per process."""
    logger = logging.getLogger("ferry")
    if not any(getattr(h, "_ferry", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(FORMAT))
        handler._ferry = True
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        # Our handler prints them; the root logger (RQ configures one) must not again.
        logger.propagate = False
    return logger
