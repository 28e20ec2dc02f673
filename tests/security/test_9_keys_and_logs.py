"""Review findings 4 and 5: the weak-key check let keys built of words and sequences
through ('ferry-production-secret-key-for-my-msp-2026' counted 263 bits); a backup's
manifest held a plain SHA-256 of the key, so it could test guesses at the key cheaply;
and gunicorn's access log wrote Xero's OAuth code (in the callback's query string) to
the journal."""
import json
import os
import re
import secrets
import shutil
import signal
import socket
import string
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

import security
from admin.backup import key_fingerprint, key_matches

ROOT = Path(__file__).resolve().parents[2]


# -- 4: keys built from words, sequences and repeats --------------------------------------------
GUESSABLE = [
    "ferry-production-secret-key-for-my-msp-2026",
    string.ascii_lowercase * 20,
    (string.ascii_letters + string.digits + string.punctuation) * 8,
    "FerryProductionSecretKeyForMyMSPCompany-2026!",
    "changeme-changeme-changeme-changeme-changeme",
    "SuperSecretPasswordForTheXeroConnectWiseSync2026",
    "0123456789" * 10,
]


@pytest.mark.parametrize("key", GUESSABLE)
def test_a_key_built_from_words_or_sequences_stops_ferry(database_url, key):
    from app import create_app
    with pytest.raises(security.WeakSecretKey, match="not built from words"):
        create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": key})


def test_the_installations_own_name_counts_as_a_word(database_url):
    from app import create_app
    key = "Bluewater-Holdings-Managed-Services-" + secrets.token_urlsafe(15)
    assert security.key_bits(key) >= security.MIN_KEY_BITS      # unknown words: letters
    with pytest.raises(security.WeakSecretKey):
        create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": key,
                    "BASE_URL": "https://ferry.bluewater-holdings.example",
                    "MAIL_FROM": "ferry@managed-services.example"})


def test_every_generated_key_passes():
    makers = [(secrets.token_urlsafe, n) for n in (32, 40, 48, 64)] + \
             [(secrets.token_hex, n) for n in (32, 48)]
    for make, size in makers:
        for _ in range(2500):
            key = make(size)
            assert security.key_bits(key) >= security.MIN_KEY_BITS, key


# -- 4: the backup's fingerprint of the key ------------------------------------------------------
def test_the_backup_fingerprint_is_slow_and_salted():
    key = secrets.token_urlsafe(48)
    first, second = key_fingerprint(key), key_fingerprint(key)
    assert first != second                           # salted: no table of guesses helps
    assert key not in first and key_matches(first, key) and key_matches(second, key)
    assert not key_matches(first, secrets.token_urlsafe(48))
    started = time.perf_counter()
    key_matches(first, "a guess")
    assert time.perf_counter() - started > 0.05      # each guess costs real time
    # A manifest cannot make restore spin for ever with an absurd number of rounds.
    algorithm, rounds, salt, digest = first.split("$")
    assert not key_matches("$".join([algorithm, "9" * 12, salt, digest]), key)


def test_a_backup_from_before_still_restores_its_key_check():
    import hashlib
    key = secrets.token_urlsafe(48)
    old = hashlib.sha256(b"ferry-backup-key-fingerprint\0" + key.encode()).hexdigest()[:16]
    assert key_matches(old, key) and not key_matches(old, key + "x")


def test_a_backup_manifest_holds_no_fast_hash_of_the_key(app, tmp_path):
    from admin.backup import write_backup
    if not app.config["DATABASE_URL"].startswith("sqlite") and not shutil.which("pg_dump"):
        pytest.skip("pg_dump is not installed")
    write_backup(app, str(tmp_path / "b"))
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["secret_key_fingerprint"].startswith("pbkdf2-sha256$")
    assert key_matches(manifest["secret_key_fingerprint"], app.config["SECRET_KEY"])


# -- 5: the OAuth code stays out of the access log ----------------------------------------------
def test_the_production_unit_logs_paths_without_query_strings(tmp_path, redis_url):
    unit = (ROOT / "deploy" / "ferry-web.service").read_text()
    start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    assert "--config /opt/ferry/app/deploy/gunicorn.conf.py" in start
    assert "--access-logfile" not in start           # the config file sets the log
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'ferry.db'}",
           "FERRY_INSTANCE_DIR": str(tmp_path), "REDIS_URL": redis_url}
    subprocess.run([str(ROOT / ".venv/bin/flask"), "--app", "app", "db", "upgrade"],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    log = tmp_path / "web.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "--config", "deploy/gunicorn.conf.py",
             "--bind", f"127.0.0.1:{port}", "--workers", "1", "app:create_app()"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/settings/xero/callback?code=SECRET-CODE-4f2a&state=s7"
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(urllib.request.Request(
                    url, headers={"Referer": url}), timeout=5)
                break
            except urllib.error.HTTPError:
                break                                # any answer is logged
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        deadline = time.monotonic() + 10
        while "/settings/xero/callback" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    written = log.read_text()
    assert re.search(r'"GET /settings/xero/callback HTTP/1.1" \d{3}', written), written
    assert "SECRET-CODE-4f2a" not in written and "state=" not in written
