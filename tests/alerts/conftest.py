"""A real SMTP server (aiosmtpd) on a free loopback port, plain, STARTTLS with login, or
implicit TLS (a self-signed certificate made here with `cryptography`); the Ferry app
pointed at it; and both sandboxes for tests that need real cycles."""
from __future__ import annotations

import datetime as dt
import email
import ipaddress
import socket
import ssl
import threading
from contextlib import contextmanager
from email import policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


SMTP_USER, SMTP_PASSWORD = "ferry-mailer", "mail-secret-for-tests"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """The server's handler: keeps what it accepts; `refuse` makes it answer DATA with
    an SMTP error instead (keeping what it refused apart); `hold` (an Event) makes DATA wait until it is set."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.refused_messages: list[email.message.EmailMessage] = []   # DATA it refused
        self.envelopes = []
        self.refuse: str | None = None
        self.refuse_rcpt: str | None = None
        self.hold: threading.Event | None = None
        self.attempts = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_rcpt:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.attempts += 1
        if self.hold is not None:
            import asyncio
            while not self.hold.is_set():
                await asyncio.sleep(0.05)
            return "451 4.3.0 the held conversation is over"
        if self.refuse:
            self.refused_messages.append(
                email.message_from_bytes(envelope.content, policy=policy.default))
            return self.refuse
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK queued"


class SmtpServer:
    def __init__(self, **kw):
        self.inbox = Inbox()
        self.port = free_port()
        self.kw = kw
        self.controller = None

    def start(self):
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port,
                                     **self.kw)
        self.controller.start()
        return self

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = (getattr(auth_data, "login", b"") == SMTP_USER.encode()
          and getattr(auth_data, "password", b"") == SMTP_PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="session")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 / localhost: (cert path, key path)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("smtp-tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def server_context(certificate) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(*certificate)
    return ctx


def client_context(certificate) -> ssl.SSLContext:
    """What Ferry is given to trust the test's own CA (a real deployment uses the
    system's CAs)."""
    return ssl.create_default_context(cafile=str(certificate[0]))


@pytest.fixture
def smtp():
    """A plain SMTP server (no TLS, no login): the relay on the same host."""
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp_tls(certificate):
    """STARTTLS required, login required (only over TLS)."""
    server = SmtpServer(tls_context=server_context(certificate), require_starttls=True,
                        auth_required=True, auth_require_tls=True,
                        authenticator=_authenticator).start()
    yield server
    server.stop()


@pytest.fixture
def smtp_implicit(certificate):
    """TLS from the first byte (as on port 465), login required. aiosmtpd counts only
    STARTTLS as TLS for its AUTH rule, so the rule is off here (and its warning ignored
    by the test): the whole conversation is encrypted anyway."""
    server = SmtpServer(ssl_context=server_context(certificate), auth_required=True,
                        auth_require_tls=False, authenticator=_authenticator)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def silent():
    """A port that takes the connection and never says a word (a firewalled relay, a
    wrong port): its port number."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held = []

    def accept():
        try:
            while True:
                held.append(listener.accept()[0])
        except OSError:
            pass                      # closed at the end of the test
    threading.Thread(target=accept, daemon=True).start()
    yield listener.getsockname()[1]
    listener.close()
    for conn in held:
        conn.close()


def point_at(app, server: SmtpServer, **extra) -> None:
    app.config.update({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": server.port,
                       "SMTP_STARTTLS": False, "SMTP_TLS": False, "SMTP_USERNAME": None,
                       "SMTP_PASSWORD": None, "SMTP_TIMEOUT": 5,
                       "MAIL_FROM": "ferry@msp.example",
                       "BASE_URL": "https://ferry.msp.example"}, **extra)


@pytest.fixture
def mailing(app, smtp):
    """The app context with a DB connection, mailing through the plain test server."""
    from models import db
    point_at(app, smtp)
    with app.app_context(), db.connection_context():
        yield smtp


# -- the sandboxes, for real cycles: tests/sync_e2e's fixtures --------------------------
from tests.sync_e2e.conftest import cw, xero  # noqa: E402,F401


@pytest.fixture
def ferry(app, smtp, cw, xero):  # noqa: F811
    """Connected to both sandboxes with the catalogue's mappings, mailing through `smtp`."""
    from jobs.demo import connect_sandboxes, seed_mappings_from_catalog
    from models import db
    point_at(app, smtp)
    with app.app_context(), db.connection_context():
        connect_sandboxes(cw.url, xero.url)
        seed_mappings_from_catalog()
        yield app


@contextmanager
def inside(app):
    """An app context with a DB connection for a test's own look-ups. Never held across
    test-client requests: a request reuses an outer app context (and its `g`)."""
    from models import db
    with app.app_context(), db.connection_context():
        yield


@pytest.fixture
def connected(app, smtp, cw, xero):  # noqa: F811
    """As `ferry`, but holding no app context: for tests that also use the test client
    (they open `inside(app)` around their own look-ups)."""
    from jobs.demo import connect_sandboxes, seed_mappings_from_catalog
    point_at(app, smtp)
    with inside(app):
        connect_sandboxes(cw.url, xero.url)
        seed_mappings_from_catalog()
    return app


def parts(message) -> dict[str, str]:
    """content type -> text of each part of a received mail."""
    found = {}
    for part in message.walk():
        if part.get_content_maintype() == "text":
            found[part.get_content_type()] = part.get_content()
    return found
