"""A capture server on loopback: it records every request it receives (headers and
body), so a test can prove that no secret of Ferry's ever reached it."""
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

# What the capture server answers: a page a stranger must never be able to read
# through Ferry (for example through the audit log).
INTERNAL_PAGE = '{"Codebase": "v2025_1/", "secret_page": "INTERNAL-ONLY-7f3a"}'


class Capture:
    def __init__(self):
        self.requests: list[dict] = []
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                capture.requests.append({
                    "method": self.command, "path": self.path,
                    "headers": dict(self.headers.items()),
                    "body": self.rfile.read(length).decode("latin-1") if length else ""})
                body = INTERNAL_PAGE.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def saw(self, text: str) -> bool:
        """Whether `text` arrived anywhere: a path, a header or a body."""
        return any(text in r["path"] or text in r["body"]
                   or any(text in v for v in r["headers"].values()) for r in self.requests)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def capture():
    server = Capture()
    yield server
    server.stop()
