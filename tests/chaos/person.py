"""A finance person in the browser while the chaos cycles run: what they press, through
Ferry's own pages (signed in, with the CSRF token, as a browser posts the forms).

Each action goes through the Flask app over its test client, in a thread of its own,
so it lands while a cycle is reading or writing. An answer of 500 or more is a failure of
Ferry (a person would see an error page); a 4xx is a sentence the page shows and is
counted, not failed."""
from __future__ import annotations

import csv
import io
import random
import re
import subprocess
import sys
import threading
from collections import Counter

from models import Connection, RecordProblem, SyncRecord
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, csrf_token

ACTIONS = ("edit mapping", "dismiss", "force-sync", "csv import", "create and link")


class Person:
    def __init__(self, app, rng: random.Random, root: str):
        self.app, self.rng, self.root = app, rng, root
        self.done = Counter()
        self.errors: list[str] = []
        self.refusals: list[str] = []
        self._thread: threading.Thread | None = None
        self._queued = 0

    # -- while a cycle runs ------------------------------------------------------------
    def start(self) -> str:
        """Start one action at random in a thread; `join` waits for it."""
        name = self.rng.choice(ACTIONS)
        seed = self.rng.random()
        self._thread = threading.Thread(target=self._act, args=(name, seed), daemon=True)
        self._thread.start()
        return name

    def start_named(self, name: str) -> None:
        self._thread = threading.Thread(target=self._act, args=(name, self.rng.random()),
                                        daemon=True)
        self._thread.start()

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join(timeout=300)
            if self._thread.is_alive():
                self.errors.append("a person's action did not finish in 5 minutes")
            self._thread = None

    def _act(self, name: str, seed: float) -> None:
        from models import db
        rng = random.Random(seed)
        try:
            # No app context around the requests (each pushes its own, so its `g`, where
            # the CSRF token is kept, is its own), nor connection_context: a request's
            # teardown closes this thread's connection, as in a gunicorn worker, and the
            # queries between requests reopen it.
            client = self.app.test_client()
            token = csrf_token(client, "/login")
            signed = client.post("/login", data={"email": ADMIN_EMAIL, "password":
                                                 ADMIN_PASSWORD, "csrf_token": token})
            if signed.status_code != 302:
                self.errors.append(f"sign in answered {signed.status_code}")
                return
            token = csrf_token(client, "/settings/")
            getattr(self, "_" + name.replace(" ", "_").replace("-", "_"))(
                client, token, rng)
        except Exception as exc:          # the test's own mistake still fails the seed
            import traceback
            self.errors.append(f"{name}: {type(exc).__name__}: {exc} "
                               + traceback.format_exc()[-1200:])
        finally:
            if not db.is_closed():
                db.close()

    def _check(self, what: str, answer) -> bool:
        # 502/503 with a sentence (Xero failed, the day's calls are used, the queue is
        # down) is a refusal a person can act on; 500 is an error page, never acceptable.
        page = answer.get_data(as_text=True)
        if answer.status_code == 500 or answer.status_code > 503 or (
                answer.status_code >= 500 and 'role="alert"' not in page):
            self.errors.append(f"{what}: HTTP {answer.status_code} "
                               f"{answer.get_data(as_text=True)[:300]}")
            return False
        self.done[f"{what} {'refused' if answer.status_code >= 400 else 'done'}"] += 1
        if answer.status_code >= 400:       # the sentence the page showed, for the log
            text = re.sub(r"<[^>]+>|\s+", " ", answer.get_data(as_text=True))
            found = re.search(r'class="(?:problem|error|flash)[^"]*"[^>]*>(.*?)</',
                              answer.get_data(as_text=True), re.S)
            self.refusals.append(f"{what}: HTTP {answer.status_code}: "
                                 + (found.group(1).strip() if found else text[-300:]))
        return answer.status_code < 400

    # -- the actions -----------------------------------------------------------------------
    def _edit_mapping(self, client, token, rng) -> None:
        """Point a GL account of one org at another of the codes its mappings use."""
        from models import AccountMapping
        rows = list(AccountMapping.select().order_by(AccountMapping.id))
        if not rows:
            return
        row = rng.choice(rows)
        codes = sorted({r.xero_code for r in rows if r.org_id == row.org_id})
        answer = client.post(f"/mappings/org/{row.org_id}/accounts/{row.id}", data={
            "cw_gl_account": row.cw_account, "xero_account_code": rng.choice(codes),
            "csrf_token": token})
        self._check("edit mapping", answer)

    def _dismiss(self, client, token, rng) -> None:
        shown = list(SyncRecord.select(SyncRecord.id).where(SyncRecord.state == "exception"))
        if not shown:
            return
        record = rng.choice(shown)
        answer = client.post(f"/exceptions/{record.id}/dismiss", data={
            "reason": "handled by hand in Xero (chaos)", "csrf_token": token})
        self._check("dismiss", answer)

    def _force_sync(self, client, token, rng) -> None:
        """Sync now for a few records (exceptions first), then a worker runs the job."""
        kind = rng.choice(("invoice", "credit_note", "bill"))
        ids = [r.cw_id for r in SyncRecord.select(SyncRecord.cw_id).where(
            SyncRecord.record_type == kind).order_by(SyncRecord.state != "exception",
                                                     SyncRecord.id).limit(3)]
        data = {"csrf_token": token}
        if ids:
            data["record"] = [f"{kind}:{i}" for i in ids]
        else:
            data["record_type"] = kind
        if self._check("force-sync", client.post("/runs/force", data=data)):
            self._queued += 1
            self.work_queue()

    @property
    def queued(self) -> bool:
        """A Sync now was pressed since the last `run_queued`."""
        return self._queued > 0

    def run_queued(self) -> None:
        """A worker's burst for what Sync now queued (again, after the cycle)."""
        self.work_queue()
        self._queued = 0

    def forget_queued(self) -> None:
        self._queued = 0

    def work_queue(self) -> None:
        """What Ferry's worker does with a queued sync: one burst of a real RQ worker."""
        code = ("from jobs.worker import run\nfrom jobs.queue import get_redis\n"
                "run(get_redis(), ['default'], burst=True)\n")
        done = subprocess.run([sys.executable, "-c", code], cwd=self.root, timeout=600,
                              env=self.env(), capture_output=True, text=True)
        if done.returncode != 0:
            self.errors.append(f"the worker's burst exited {done.returncode}: "
                               f"{done.stderr[-400:]}")

    def env(self) -> dict:
        import os
        return {**os.environ, "DATABASE_URL": self.app.config["DATABASE_URL"]}

    def _csv_import(self, client, token, rng) -> None:
        """Export an org's account mappings and import the file again (a round trip a
        finance person makes after editing it in a spreadsheet)."""
        orgs = list(Connection.select().where(Connection.kind == "xero"))
        org = rng.choice(orgs)
        exported = client.get(f"/mappings/export/accounts?org={org.id}")
        if not self._check("csv export", exported):
            return
        rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
        if not rows:
            return
        codes = sorted({r["xero_account_code"] for r in rows})
        rng.choice(rows)["xero_account_code"] = rng.choice(codes)   # the person's edit
        edited = io.StringIO()
        writer = csv.DictWriter(edited, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        preview = client.post("/mappings/import", data={
            "kind": "accounts", "org": str(org.id), "csrf_token": token,
            "file": (io.BytesIO(edited.getvalue().encode()), "accounts.csv")},
            content_type="multipart/form-data")
        if not self._check("csv preview", preview):
            return
        data = re.search(r'name="data" value="([^"]*)"', preview.get_data(as_text=True))
        if data is None and "Nothing to change" in preview.get_data(as_text=True):
            return                      # the edit chose the code the row already had
        if data is None:
            page = preview.get_data(as_text=True)
            rows = re.findall(r"<tr[^>]*>(.*?)</tr>", page, re.S)
            self.errors.append("csv preview: the page offered no Apply for an unchanged "
                               "file: " + " | ".join(re.sub(r"<[^>]+>|\s+", " ", r)
                                                     for r in rows if "reject" in r)[:600])
            return
        self._check("csv import", client.post("/mappings/import/apply", data={
            "kind": "accounts", "org": str(org.id), "data": data.group(1),
            "csrf_token": token}))

    def _create_and_link(self, client, token, rng) -> None:
        """The contact clash: create a Xero contact under another name and link it,
        pressed twice as an impatient person does (a second press must find the first's
        contact, never make another)."""
        clash = RecordProblem.select().where(RecordProblem.kind == "contact").first()
        if clash is None or clash.org_id is None:
            return
        for name in ("(customer)", "(ConnectWise)"):
            company = clash.label or f"company {clash.cw_value}"
            answer = client.post(f"/mappings/org/{clash.org_id}/contacts/create", data={
                "company": clash.cw_value, "name": f"{company} {name}",
                "csrf_token": token})
            self._check("create and link", answer)
