"""Errors the connectors raise. Each carries `sentence`: what happened and what to do
next, in words a finance person can act on; `str(error)` is that sentence.

The transport raises the network-level ones (no usable answer came back); each API
client raises the others from the answer's status and body.
"""
from __future__ import annotations


class ApiError(Exception):
    """Base of every connector error."""

    def __init__(self, sentence: str, *, status: int | None = None,
                 code: str | None = None, details: list | None = None,
                 said: str | None = None):
        super().__init__(sentence)
        self.sentence = sentence
        self.status = status
        self.code = code
        self.details = details or []
        # The server's own words when the sentence quotes them (so a caller showing
        # several errors from one server can quote them once).
        self.said = said


class AuthenticationFailed(ApiError):
    """The credentials were refused (401)."""


class PermissionDenied(ApiError):
    """The credentials work but may not do this (403)."""


class NotFound(ApiError):
    """The record or endpoint does not exist (404)."""


class ObjectExists(ApiError):
    """A create clashed with a record that already exists."""


class BadRequest(ApiError):
    """The API refused what was sent (400)."""


class RateLimited(ApiError):
    """Too many calls; `retry_after` is the server's wait in seconds, if it said."""

    def __init__(self, sentence: str, *, retry_after: float | None = None, **kw):
        super().__init__(sentence, **kw)
        self.retry_after = retry_after


class ApiUnavailable(ApiError):
    """The service is down, overloaded or could not be reached."""


class ConnectionFailed(ApiUnavailable):
    """No connection could be made (name lookup, refused, reset)."""


class TimedOut(ApiUnavailable):
    """No answer within the timeout."""


class OutcomeUnknown(ApiUnavailable):
    """A write was sent but no answer came back: it may or may not have happened.
    It is not retried blindly; the caller must look before writing again."""


class MalformedResponse(ApiError):
    """The answer was not JSON, or not the shape the API documents."""


class UnusableSetting(ApiError):
    """A saved setting cannot be sent as it is (a character an HTTP header cannot carry):
    someone must enter it again in Settings."""


def header_value_problem(value: str, label: str, service: str) -> str | None:
    """A sentence when `value` (an id or key that travels in an HTTP header) holds what
    such a header cannot carry, or what these services never issue: anything but plain
    printable ASCII (letters, digits, punctuation), spaces included. None when it can,
    and for a blank one: that is missing, and the missing settings' check says so."""
    if not (value or "").strip():
        return None
    for position, char in enumerate(value or "", 1):
        if not 33 <= ord(char) <= 126:
            shown = (f"“{char}”" if char.isprintable() and not char.isspace()
                     else f"an invisible character (U+{ord(char):04X})")
            return (f"{label} holds {shown} at character {position}, which cannot be sent "
                    f"to {service}: {service}'s ids and keys are plain letters, digits and "
                    "punctuation, without spaces. Copy it again from where "
                    f"{service} shows it (a word processor or chat may have changed "
                    "a dash or a quote).")
    return None


def check_header_values(values: dict[str, str], service: str) -> None:
    """UnusableSetting with the first problem of {label: value}, saying where to fix it."""
    for label, value in values.items():
        problem = header_value_problem(value, label, service)
        if problem:
            raise UnusableSetting(problem + f" Enter it again under Settings → {service}.")
