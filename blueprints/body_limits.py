"""How much a request may send, per page, refused before anything reads it.

Werkzeug reads an urlencoded form whole into memory (its form-size limits apply to
multipart only), and the CSRF check reads the form of every POST before the sign-in is
checked: so without a cap, anyone could make a worker parse a body of tens of MB. Every
request may send FORM_LIMIT; a page that takes an upload says so with @accepts_body, and
only a signed-in browser may send it more. A larger Content-Length is refused at once,
unread; a chunked body (no Content-Length) is cut off as soon as it passes the limit.
"""
from __future__ import annotations

import io

from flask import current_app, request, session
from werkzeug.exceptions import RequestEntityTooLarge

# Every form of Ferry's is far smaller (the biggest: a few thousand ids ticked at once).
FORM_LIMIT = 1024 * 1024


def accepts_body(limit: int):
    """Let a signed-in user send this view up to `limit` bytes (an upload)."""
    def mark(view):
        view.ferry_body_limit = limit
        return view
    return mark


def limit_for(endpoint: str | None, signed_in: bool) -> int:
    view = current_app.view_functions.get(endpoint) if endpoint else None
    bigger = getattr(view, "ferry_body_limit", None)
    return bigger if bigger and signed_in else FORM_LIMIT


def _limit_body():
    # The session is the signed cookie alone: knowing who asks costs no body read. A
    # cookie whose sign-in has ended still counts here; the page itself refuses it.
    limit = limit_for(request.endpoint, bool(session.get("user_id")))
    request.max_content_length = limit
    environ = request.environ
    if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        _take_chunked_body(environ, limit)
    if (request.content_length or 0) > limit:
        raise RequestEntityTooLarge()


def _take_chunked_body(environ, limit: int) -> None:
    """A body sent without a Content-Length: read at most `limit` + 1 bytes of it now and
    refuse it if there is more. (Werkzeug stops reading such a body at the limit without
    saying so, and the form would be parsed from its first part.) What fits is handed on
    as an ordinary body of known length."""
    stream, taken, size = environ["wsgi.input"], [], 0
    while size <= limit:
        piece = stream.read(min(64 * 1024, limit + 1 - size))
        if not piece:
            break
        taken.append(piece)
        size += len(piece)
    if size > limit:
        raise RequestEntityTooLarge()
    environ["wsgi.input"] = io.BytesIO(b"".join(taken))
    environ["CONTENT_LENGTH"] = str(size)
    del environ["HTTP_TRANSFER_ENCODING"]
    environ.pop("wsgi.input_terminated", None)
    for cached in ("content_length", "stream"):     # in case anything asked already
        request.__dict__.pop(cached, None)


def size(count: int) -> str:
    if count >= 1024 * 1024:
        return f"{count / (1024 * 1024):.1f} MB"
    return f"{max(1, round(count / 1024))} KB"


TOO_LARGE = {"title": "Too large", "heading": "Ferry did not read what was sent"}


def too_large_sentence() -> str:
    limit = request.max_content_length or FORM_LIMIT
    sent = request.content_length
    said = f" ({size(sent)})" if sent else ""
    return (f"What was sent{said} is more than this page accepts ({size(limit)} at most), "
            "so Ferry did not read it and nothing was saved.")


def install(app) -> None:
    """Cap every request's body, ahead of every other before-request function (the
    CSRF check among them), and answer 413 with a sentence."""
    app.before_request_funcs.setdefault(None, []).insert(0, _limit_body)

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(_exc):
        from blueprints.dashboard import _refusal
        return _refusal("refused", too_large_sentence(), 413, **TOO_LARGE)
