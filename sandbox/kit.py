"""What both sandboxes share: a request journal, fault injection, a movable clock,
the `/_sandbox/` control endpoints, serving in a thread and the command line.

A sandbox is a plain WSGI app (Flask) wrapped by `Kit.wrap()`. The wrapper sees every
request before the app does (faults that happen before the server acts) and every
response after (faults that happen after it committed, such as a lost response), and
writes both into the journal with secrets masked.
"""
from __future__ import annotations

import argparse
import base64
import fnmatch
import functools
import io
import json
import random
import re
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable
from urllib.parse import parse_qsl

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

# Header and body keys whose values never reach the journal.
SECRET_HEADERS = {"authorization", "cookie", "set-cookie", "x-api-key"}
# OAuth's lower-case "code" is a secret; Xero's "Code" (an account code) is not.
SECRET_KEYS = re.compile(
    r"(?i:secret|password|token|privatekey|private_key|code_verifier|assertion)|^code$")
MASK = "***"


def mask_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    out = {}
    for name, value in headers:
        if name.lower() in SECRET_HEADERS:
            scheme = value.split(" ", 1)[0] if " " in value else ""
            out[name] = f"{scheme} {MASK}".strip()
        else:
            out[name] = value
    return out


@functools.lru_cache(maxsize=4096)
def _secret_key(key: str) -> bool:
    # The same few hundred field names repeat in every journalled body: decide once each.
    return SECRET_KEYS.search(key) is not None


def mask_data(data):
    """Mask secret-looking keys anywhere in decoded JSON or form data."""
    if isinstance(data, dict):
        return {
            k: (MASK if isinstance(k, str) and _secret_key(k) else mask_data(v))
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [mask_data(v) for v in data]
    return data


def _mask_object(data: dict) -> dict:
    """json.loads' object_hook: mask_data for one decoded object, its inner objects done
    already (decoding and masking in one pass; most objects have no secret key)."""
    if any(_secret_key(k) for k in data):
        return {k: MASK if _secret_key(k) else v for k, v in data.items()}
    return data


def mask_body(raw: bytes, content_type: str | None) -> object:
    """Decode a body for the journal (JSON or form), masked; other bodies as text."""
    if not raw:
        return None
    ctype = (content_type or "").lower()
    text = raw.decode("utf-8", "replace")
    if "json" in ctype:
        try:
            return json.loads(text, object_hook=_mask_object)
        except ValueError:
            return text
    if "x-www-form-urlencoded" in ctype:
        return mask_data(dict(parse_qsl(text, keep_blank_values=True)))
    if len(text) > 20000:
        return text[:20000] + "…"
    return text


class Clock:
    """Simulated time: real time plus an offset that tests may move forward."""

    def __init__(self):
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(timezone.utc) + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += timedelta(seconds=seconds)

    def set(self, when: datetime) -> None:
        with self._lock:
            self._offset = when - datetime.now(timezone.utc)

    def reset(self) -> None:
        with self._lock:
            self._offset = timedelta(0)

    def monotonic(self) -> float:
        """Seconds for rate windows: moves with `advance()` too."""
        with self._lock:
            return time.monotonic() + self._offset.total_seconds()


class Journal:
    """Every request received, newest last. Bounded so a long demo cannot eat memory."""

    def __init__(self, maxlen: int = 20000):
        self._entries: deque[dict] = deque(maxlen=maxlen)
        self._lock = threading.Lock()
        self._seq = 0

    def record(self, entry: dict) -> None:
        with self._lock:
            self._seq += 1
            entry["seq"] = self._seq
            self._entries.append(entry)

    def entries(self, method: str | None = None, path: str | None = None,
                since: int = 0) -> list[dict]:
        """Entries with seq > since, optionally filtered by method and a path glob."""
        with self._lock:
            items = list(self._entries)
        return [
            e for e in items
            if e["seq"] > since
            and (method is None or e["method"] == method.upper())
            and (path is None or fnmatch.fnmatch(e["path"], path))
        ]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


# Faults the kit itself knows how to cause. A sandbox adds its own (429 bodies,
# token errors) through `Kit.fault_handlers`.
GENERIC_FAULTS = {"500", "502", "503", "504", "slow", "timeout", "reset", "lost_response"}


@dataclass
class FaultRule:
    """Fire `kind` on requests matching `method` and the path glob `path`.

    Either `rate` (0..1, each matching request) or `nth` (the Nth matching request
    counted from when the rule was set; fires once unless `times` says more)."""

    kind: str
    path: str = "*"
    method: str = "*"
    rate: float | None = None
    nth: int | None = None
    times: int | None = None       # how many times it may fire; None = unlimited for rate
    delay: float | None = None     # seconds: slow defaults to 2, timeout to 30
    seen: int = 0
    fired: int = 0
    id: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (self.method == "*" or self.method.upper() == method) and fnmatch.fnmatch(
            path, self.path
        )

    def should_fire(self, rng: random.Random) -> bool:
        if self.times is not None and self.fired >= self.times:
            return False
        self.seen += 1
        if self.nth is not None:
            fire = self.seen >= self.nth and (self.times is not None or self.fired == 0)
        else:
            fire = rng.random() < (self.rate if self.rate is not None else 1.0)
        if fire:
            self.fired += 1
        return fire

    def as_dict(self) -> dict:
        return {
            "id": self.id, "kind": self.kind, "path": self.path, "method": self.method,
            "rate": self.rate, "nth": self.nth, "times": self.times, "delay": self.delay,
            "seen": self.seen, "fired": self.fired,
        }


class Faults:
    def __init__(self, seed: int = 0):
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._next_id = 1

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            rule.id = self._next_id
            self._next_id += 1
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[dict]:
        with self._lock:
            return [r.as_dict() for r in self._rules]

    def pick(self, method: str, path: str) -> FaultRule | None:
        """The first matching rule that fires for this request, if any."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path) and rule.should_fire(self._rng):
                    return rule
        return None


def _json(data, status: int = 200) -> Response:
    return Response(json.dumps(data, default=str), status=status,
                    mimetype="application/json")


class Kit:
    """Journal + faults + clock + control endpoints around one sandbox WSGI app.

    `reset` is called by POST /_sandbox/reset (rebuild the synthetic data from the seed).
    `fault_handlers[kind](request, rule) -> Response` produce API-specific faults; a
    handler may return None to let the request through (e.g. a token fault that only
    applies to some requests).
    """

    def __init__(self, name: str, reset: Callable[[], None], seed: int = 0):
        self.name = name
        self.clock = Clock()
        self.journal = Journal()
        self.faults = Faults(seed)
        self._reset = reset
        self.fault_handlers: dict[str, Callable[[Request, FaultRule], Response | None]] = {}

    # -- control endpoints -------------------------------------------------------------
    def _control(self, request: Request) -> Response:
        path = request.path[len("/_sandbox/"):].strip("/")
        if path == "journal" and request.method == "GET":
            args = request.args
            return _json(self.journal.entries(
                method=args.get("method"), path=args.get("path"),
                since=int(args.get("since", 0)),
            ))
        if path == "journal" and request.method == "DELETE":
            self.journal.clear()
            return _json({"cleared": True})
        if path == "reset" and request.method == "POST":
            self.faults.clear()
            self.clock.reset()
            self.journal.clear()
            self._reset()
            return _json({"reset": True})
        if path == "faults" and request.method == "GET":
            return _json(self.faults.rules())
        if path == "faults" and request.method == "DELETE":
            self.faults.clear()
            return _json({"cleared": True})
        if path == "faults" and request.method == "POST":
            body = request.get_json(silent=True) or {}
            rules = body.get("rules", [body]) if isinstance(body, dict) else body
            added = []
            known = GENERIC_FAULTS | set(self.fault_handlers)
            for raw in rules:
                kind = str(raw.get("kind", ""))
                if kind not in known:
                    return _json({"error": f"unknown fault kind {kind!r}",
                                  "known": sorted(known)}, 400)
                rule = FaultRule(
                    kind=kind, path=raw.get("path", "*"), method=raw.get("method", "*"),
                    rate=raw.get("rate"), nth=raw.get("nth"), times=raw.get("times"),
                    delay=float(raw["delay"]) if raw.get("delay") is not None else None,
                )
                added.append(self.faults.add(rule).as_dict())
            return _json(added, 201)
        if path == "clock" and request.method == "GET":
            return _json({"now": self.clock.now().isoformat()})
        if path == "clock" and request.method == "POST":
            body = request.get_json(silent=True) or {}
            if "advance_seconds" in body:
                self.clock.advance(float(body["advance_seconds"]))
            elif "set" in body:
                self.clock.set(datetime.fromisoformat(body["set"]))
            else:
                return _json({"error": "send advance_seconds or set"}, 400)
            return _json({"now": self.clock.now().isoformat()})
        return None  # not a kit endpoint: the sandbox's own /_sandbox/ actions

    # -- the middleware ------------------------------------------------------------------
    def wrap(self, app):
        kit = self

        def middleware(environ, start_response):
            request = Request(environ)
            body = request.get_data(cache=True)
            # get_data consumed the stream: give the app a fresh one.
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))

            if request.path.startswith("/_sandbox/"):
                response = kit._control(request)
                if response is not None:
                    return response(environ, start_response)
                return app(environ, start_response)

            started = time.monotonic()
            rule = kit.faults.pick(request.method, request.path)
            response = None
            lost = False
            if rule is not None:
                response, lost = kit._before(environ, request, rule)
                if response == "dropped":
                    kit._record(request, body, None, started, fault=rule.kind)
                    return []
            if response is None:
                response = Response.from_app(app, environ, buffered=True)
            kit._record(request, body, response, started,
                        fault=rule.kind if rule is not None else None)
            if lost:
                # The server did the work; the client never hears of it.
                _drop_connection(environ)
                return []
            return response(environ, start_response)

        return middleware

    def _before(self, environ, request: Request, rule: FaultRule):
        kind = rule.kind
        if kind in {"500", "502", "503", "504"}:
            return _json({"message": f"Simulated {kind} from the {self.name} sandbox"},
                         int(kind)), False
        if kind == "slow":
            time.sleep(rule.delay if rule.delay is not None else 2.0)
            return None, False
        if kind == "timeout":
            time.sleep(rule.delay if rule.delay is not None else 30.0)
            _drop_connection(environ)
            return "dropped", False
        if kind == "reset":
            _drop_connection(environ)
            return "dropped", False
        if kind == "lost_response":
            return None, True
        handler = self.fault_handlers[kind]
        return handler(request, rule), False

    def _record(self, request: Request, body: bytes, response: Response | None,
                started: float, fault: str | None) -> None:
        entry = {
            "time": self.clock.now().isoformat(),
            "method": request.method,
            "path": request.path,
            "query": request.query_string.decode("utf-8", "replace"),
            "headers": mask_headers(request.headers.items()),
            "body": mask_body(body, request.content_type),
            "status": None,
            "response": None,
            "duration_ms": round((time.monotonic() - started) * 1000, 1),
            "fault": fault,
        }
        if response is not None:
            entry["status"] = response.status_code
            entry["response_headers"] = mask_headers(response.headers.items())
            entry["response"] = mask_body(response.get_data(), response.content_type)
        self.journal.record(entry)


def _drop_connection(environ) -> None:
    """Close the client's TCP connection (werkzeug's server exposes the socket)."""
    sock = environ.get("werkzeug.socket")
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def basic_auth(header: str | None) -> tuple[str, str] | None:
    """('user', 'password') from a Basic Authorization header, else None."""
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


class ServedSandbox:
    """A sandbox served over real HTTP on loopback, in a background thread."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0):
        self.server = make_server(host, port, app, threaded=True)
        self.port = self.server.server_port
        self.url = f"http://{host}:{self.port}"
        # A short poll: stop() waits up to one interval for the loop to notice (werkzeug's
        # default of 0.5 s cost every test that serves a sandbox half a second).
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05},
                                       name=f"sandbox-{self.port}", daemon=True)

    def start(self) -> "ServedSandbox":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def serve_in_thread(app, host: str = "127.0.0.1", port: int = 0) -> ServedSandbox:
    return ServedSandbox(app, host, port).start()


def cli_parser(prog: str, default_port: int) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=default_port)
    parser.add_argument("--seed", type=int, default=1,
                        help="same seed, same synthetic data (default 1)")
    parser.add_argument("--scale", type=int, default=1,
                        help="multiplies the synthetic volume (1: ~500 invoices)")
    return parser


def run_forever(app, host: str, port: int, banner: str) -> None:
    """Serve until interrupted, printing the banner (base URL and credentials) first."""
    server = make_server(host, port, app, threaded=True)
    print(banner, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
