"""Secrets are encrypted at rest and readable only with the same FERRY_SECRET_KEY."""
import pytest

import security
from models import Connection, Setting, db


def test_connection_secret_round_trip_and_ciphertext_at_rest(app):
    with app.app_context(), db.connection_context():
        conn = Connection.create(kind="connectwise", name="CW", settings={"site": "x"},
                                 secrets={"private_key": "s3cr3t-private-key"})
        again = Connection.get_by_id(conn.id)
        assert again.secrets == {"private_key": "s3cr3t-private-key"}
        raw = db.execute_sql("SELECT secrets FROM connection WHERE id = %s" % conn.id
                             ).fetchone()[0]
        assert "s3cr3t-private-key" not in raw
        assert raw.startswith("gAAAA")  # a Fernet token


def test_secret_setting_is_encrypted_plain_setting_is_not(app):
    with app.app_context(), db.connection_context():
        Setting.set_value("smtp_password", "mail-password-123", secret=True)
        Setting.set_value("retention_days", 30)
        assert Setting.get_value("smtp_password") == "mail-password-123"
        assert Setting.get_value("retention_days") == 30
        rows = dict(db.execute_sql("SELECT key, secret FROM setting").fetchall())
        assert "mail-password-123" not in (rows["smtp_password"] or "")


def test_another_secret_key_cannot_read_and_says_what_to_do(app):
    with app.app_context(), db.connection_context():
        Setting.set_value("smtp_password", "mail-password-123", secret=True)
        security.configure("a different key")
        try:
            with pytest.raises(security.SecretUnreadable, match="enter the credentials again"):
                Setting.get_value("smtp_password")
        finally:
            security.configure(app.config["SECRET_KEY"])
