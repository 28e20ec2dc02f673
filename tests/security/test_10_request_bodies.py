"""Issue 20, item 4 (finding 1): a 55 MB urlencoded POST /login, without a cookie, was
read and parsed whole (the CSRF check parses the form first) and took a worker from
71 MB to over 1 GB. Every request's body is now capped before anything reads it: 1 MB
for forms, more only for the mapping upload, and only for a signed-in browser."""
import re
import socket
import threading
import time
from pathlib import Path

import pytest

from blueprints.body_limits import FORM_LIMIT
from blueprints.mappings.imports import APPLY_LIMIT, REQUEST_LIMIT
from sandbox.kit import serve_in_thread
from tests.conftest import csrf_token

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
BIG = 55 * 1024 * 1024


@pytest.fixture
def live(app):
    server = serve_in_thread(app)
    yield server
    server.stop()


def _answer(sock: socket.socket, patience: float = 5.0) -> str:
    """The status line and headers of the answer, or '' if none came in time."""
    sock.settimeout(patience)
    seen = b""
    try:
        while b"\r\n\r\n" not in seen:
            piece = sock.recv(65536)
            if not piece:
                break
            seen += piece
    except (socket.timeout, ConnectionResetError):
        pass
    return seen.decode("latin-1")


def _head(path: str, live, extra: str) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{live.port}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n" + extra + "\r\n").encode()


def test_a_huge_declared_body_is_refused_at_once_unread(live):
    """Content-Length of 55 MB, and only a few bytes of it sent: Ferry answers 413 without
    waiting for the rest (reading it would hang until the client gives up)."""
    with socket.create_connection(("127.0.0.1", live.port)) as sock:
        started = time.monotonic()
        sock.sendall(_head("/login", live, f"Content-Length: {BIG}\r\n") + b"a=b&" * 64)
        answer = _answer(sock)
        took = time.monotonic() - started
    assert answer.startswith("HTTP/1.1 413"), answer[:200] or "no answer within 5 s"
    assert took < 3


def test_a_chunked_body_is_cut_off_past_the_limit(live):
    """No Content-Length: the body is read only up to the limit, then refused, without
    waiting for the end of it."""
    with socket.create_connection(("127.0.0.1", live.port)) as sock:
        sock.sendall(_head("/login", live, "Transfer-Encoding: chunked\r\n"))
        chunk = b"a=b&" * 16384                        # 64 KB
        sent = 0

        def feed():
            nonlocal sent
            try:
                while sent <= FORM_LIMIT + len(chunk):
                    sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    sent += len(chunk)
            except OSError:
                pass                                   # Ferry closed it: expected
        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        answer = _answer(sock)                         # the last chunk never comes
    assert answer.startswith("HTTP/1.1 413"), answer[:200] or "no answer within 5 s"


def test_a_small_chunked_body_is_read_as_before(live):
    import requests
    with requests.Session() as browser:
        page = browser.get(live.url + "/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        body = f"csrf_token={token}&email=a%40b.example&password=wrong".encode()
        answer = browser.post(live.url + "/login", data=iter([body[:20], body[20:]]),
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 401                   # read, checked, refused


def test_the_refusal_says_so_in_a_sentence(client):
    token = csrf_token(client)
    answer = client.post("/login", data={"csrf_token": token, "email": "a@b.example",
                                         "password": "x" * (FORM_LIMIT + 10)})
    assert answer.status_code == 413
    page = answer.get_data(as_text=True)
    assert "is more than this page accepts (1.0 MB at most), so Ferry did not read it" \
        in page
    # A form under the limit is read as before.
    assert client.post("/login", data={"csrf_token": token, "email": "a@b.example",
                                       "password": "x" * 1000}).status_code == 401


def test_only_a_signed_in_browser_may_send_an_upload(client, auth):
    """The mapping upload takes 5 MB from a signed-in person; a stranger gets the form
    limit there too, and the app's sentence (not the import page with the org names)."""
    body = b"x" * (2 * 1024 * 1024)
    stranger = client.post("/mappings/import", data=body,
                           content_type="application/x-www-form-urlencoded")
    assert stranger.status_code == 413
    assert "1.0 MB at most" in stranger.get_data(as_text=True)
    assert "Xero organisation" not in stranger.get_data(as_text=True)
    auth.login()
    token = csrf_token(client, "/mappings/import")
    signed_in = client.post("/mappings/import", data={"csrf_token": token,
                                                      "kind": "nonsense", "x": body})
    assert signed_in.status_code == 422                  # read, and answered on its merits


def _nginx_limits() -> dict[str, int]:
    text = (DEPLOY / "nginx.conf").read_text()
    units = {"k": 1024, "m": 1024 ** 2}
    found = {}
    server_level = re.search(r"server \{[^{}]*?listen 443.*?\n    client_max_body_size "
                             r"(\d+)([km]);", text, re.S)
    found["/"] = int(server_level.group(1)) * units[server_level.group(2)]
    for path, number, unit in re.findall(
            r"location = (\S+) \{[^}]*client_max_body_size (\d+)([km]);", text):
        found[path] = int(number) * units[unit]
    return found


def _caddy_limits(name: str) -> dict[str, int]:
    text = (DEPLOY / name).read_text()
    units = {"KiB": 1024, "MiB": 1024 ** 2}
    matchers = dict(re.findall(r"^\s*@(\w+) (.+)$", text, re.M))
    found = {}
    for matcher, number, unit in re.findall(
            r"request_body @(\w+) \{\s*max_size (\d+)(KiB|MiB)", text):
        paths = matchers[matcher]
        key = "/" if paths.startswith("not ") else paths.split()[-1]
        for path in ([key] if key == "/" else paths.removeprefix("path ").split()):
            found[path] = int(number) * units[unit]
    return found


@pytest.mark.parametrize("limits", [_nginx_limits, lambda: _caddy_limits("Caddyfile"),
                                    lambda: _caddy_limits("compose/Caddyfile")],
                         ids=["nginx", "caddy", "compose-caddy"])
def test_the_proxy_examples_cap_bodies_as_ferry_does(limits):
    """Small for forms, larger only where Ferry takes an upload (and at least what Ferry
    takes there, so its own sentence is what a person sees)."""
    found = limits()
    assert found["/"] <= 2 * 1024 * 1024
    assert found["/mappings/import"] >= REQUEST_LIMIT
    assert found["/mappings/import/apply"] >= APPLY_LIMIT
    assert set(found) == {"/", "/mappings/import", "/mappings/import/apply"}
