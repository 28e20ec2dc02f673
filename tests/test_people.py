"""People: invitations and password resets by one-time link, roles, and the migration
that makes every existing account an administrator."""
import re
from datetime import timedelta

import migrations
from app import open_database
from models import AccountLink, OutboxMail, User, db, utcnow
from tests.conftest import ADMIN_EMAIL, csrf_token

LINK = re.compile(r"http://[^/\s]+(/welcome/[\w-]+)")


def _invite(client, email="auditor@msp.example", role="viewer"):
    token = csrf_token(client, "/people/")
    return client.post("/people/invite", data={"email": email, "role": role,
                                               "csrf_token": token})


def _mailed_link(email: str) -> str:
    with db.connection_context():
        mail = [m for m in OutboxMail.select().order_by(OutboxMail.id.desc())
                if email in m.recipients][0]
    return LINK.search(mail.text).group(1)


def _choose(client, path, password="a long enough pass", confirm=None):
    token = csrf_token(client, path)
    return client.post(path, data={"password": password, "confirm": confirm or password,
                                   "csrf_token": token})


def test_invitation_signs_the_person_up_once_in_their_role(app, client, auth):
    auth.login()
    answer = _invite(client)
    assert answer.status_code == 303
    page = client.get("/people/").get_data(as_text=True)
    assert "Invitation to auditor@msp.example as viewer is in the Outbox" in page
    path = _mailed_link("auditor@msp.example")
    with db.connection_context():
        link = AccountLink.get(AccountLink.email == "auditor@msp.example")
        assert path.rsplit("/", 1)[1] not in link.token_hash       # only its hash kept
        assert link.created_by.email == ADMIN_EMAIL

    stranger = app.test_client()
    assert "invited as <strong>viewer</strong>" in stranger.get(path).get_data(as_text=True)
    short = _choose(stranger, path, "short")
    assert short.status_code == 400 and "at least 10 characters" in short.get_data(as_text=True)
    done = _choose(stranger, path)
    assert done.status_code == 303
    home = stranger.get("/")
    assert home.status_code == 200 and "Viewer" in home.get_data(as_text=True)
    assert stranger.post("/settings/general").status_code in (400, 403)
    with db.connection_context():
        assert User.get(User.email == "auditor@msp.example").role == "viewer"

    again = app.test_client().get(path)
    assert again.status_code == 410 and "already been used" in again.get_data(as_text=True)


def test_expired_and_cancelled_links_do_not_work(app, client, auth):
    auth.login()
    _invite(client, "late@msp.example", "finance")
    path = _mailed_link("late@msp.example")
    with db.connection_context():
        AccountLink.update(expires_at=utcnow() - timedelta(seconds=1)).execute()
    assert app.test_client().get(path).status_code == 410
    assert _choose(app.test_client(), "/welcome/not-a-token").status_code == 410


def test_reset_link_sets_a_new_password_and_ends_old_sessions(app, client, auth):
    auth.login()
    _invite(client, "money@msp.example", "finance")
    _choose(app.test_client(), _mailed_link("money@msp.example"))
    finance = app.test_client()
    finance_auth = type(auth)(finance)
    finance_auth.login("money@msp.example", "a long enough pass")
    assert finance.get("/mappings/import").status_code == 200
    with db.connection_context():
        user = User.get(User.email == "money@msp.example")
    token = csrf_token(client, "/people/")
    client.post(f"/people/{user.id}/reset", data={"csrf_token": token})
    path = _mailed_link("money@msp.example")
    assert _choose(app.test_client(), path, "another long pass").status_code == 303
    assert finance.get("/").status_code == 302          # the old session is over
    assert finance_auth.login("money@msp.example", "another long pass").status_code == 302
    with db.connection_context():
        assert User.get(User.email == "money@msp.example").role == "finance"


def test_roles_change_and_the_last_administrator_stays(app, client, auth):
    auth.login()
    with db.connection_context():
        me = User.get(User.email == ADMIN_EMAIL)
    token = csrf_token(client, "/people/")
    answer = client.post(f"/people/{me.id}/role", data={"role": "viewer",
                                                       "csrf_token": token})
    assert answer.status_code == 400
    assert "the only administrator" in answer.get_data(as_text=True)
    answer = client.post(f"/people/{me.id}/remove", data={"csrf_token": token})
    assert answer.status_code == 400
    bad = _invite(client, ADMIN_EMAIL, "viewer")
    assert bad.status_code == 400 and "already has an account" in bad.get_data(as_text=True)
    bad = _invite(client, "nobody", "viewer")
    assert bad.status_code == 400 and "e-mail address" in bad.get_data(as_text=True)


def test_outbox_hides_link_mails_from_other_roles(app, client, auth):
    auth.login()
    _invite(client, "watch@msp.example", "viewer")
    path = _mailed_link("watch@msp.example")
    _choose(app.test_client(), path)
    with db.connection_context():
        mail = OutboxMail.get(OutboxMail.kind == "invite")
    viewer = app.test_client()
    type(auth)(viewer).login("watch@msp.example", "a long enough pass")
    text = viewer.get(f"/outbox/{mail.id}").get_data(as_text=True)
    assert "/welcome/" not in text and "only administrators" in text
    assert "/welcome/" in client.get(f"/outbox/{mail.id}").get_data(as_text=True)


def test_existing_users_become_administrators(tmp_path):
    database = open_database(f"sqlite:///{tmp_path / 'old.db'}")
    with database.connection_context():
        before = [n for n in migrations.available() if n < "0017"]
        migrations.upgrade(database, target=before[-1])
        database.execute_sql(
            'INSERT INTO "user" (email, password_hash, is_admin, created_at) '
            "VALUES ('old@msp.example', 'x', 1, '2026-01-01 00:00:00')")
        migrations.upgrade(database)
        role, = database.execute_sql(
            """SELECT role FROM "user" WHERE email = 'old@msp.example'""").fetchone()
    assert role == "administrator"
