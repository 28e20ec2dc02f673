"""Xero webhooks: signed event notifications for invoices, contacts and credit notes
sent to the one URL configured, as the Xero app's webhook settings hold it.

`POST /_sandbox/xero/webhooks` {url, key, lose?, duplicate?, delay?, delay_seconds?,
seed?}: set the delivery URL and webhook key (as typed in the Xero app) and the
delivery faults. Setting a URL or key runs the "intent to receive" check first: one
empty, correctly signed body must get 200 and one wrongly signed body 401, each within
5 seconds; until it passes, no event is sent (status says why). `GET` the same path
for the status and the deliveries made.

A notification body is the spec's `WebhookEvent` (../shared/reference/xero/
xero-webhooks.yaml): `events` (one here: resourceUrl, resourceId, eventDateUtc,
eventType CREATE|UPDATE, eventCategory INVOICE|CONTACT|CREDITNOTE, tenantId,
tenantType ORGANISATION; a credit note's event carries data {Type, Status}),
`firstEventSequence`, `lastEventSequence`, `entropy`; header `x-xero-signature`: the
base64 HMAC-SHA256 of the body under the webhook key. A payment changes its invoice
(AmountDue, Status), which is the INVOICE UPDATE event a payment makes (Xero has no
payment webhooks).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import string
import threading

from flask import Blueprint, request

from sandbox.webhooks import Sender, Watcher

from .jsonio import respond

CATEGORIES = (("INVOICE", "invoices", "Invoices"), ("CREDITNOTE", "credit_notes",
                                                     "CreditNotes"),
              ("CONTACT", "contacts", "Contacts"))


def signature(key: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(key.encode("utf-8"), body, hashlib.sha256).digest()
                            ).decode("ascii")


class XeroWebhooks:
    def __init__(self, sandbox, seed: int = 0):
        self.sandbox = sandbox
        self.sender = Sender(seed)
        self.watcher = Watcher(self._snapshot, self._changed)
        self.url: str | None = None
        self.key: str | None = None
        self.status = "not configured"
        self.enabled = False
        self.sequence = 0
        self._lock = threading.Lock()
        self._rng = random.Random(seed)

    def _snapshot(self) -> dict:
        store = self.sandbox.store
        with store.lock:
            return {(category, org.tenant_id, doc_id): (doc.get("UpdatedDateUTC"),
                                                        doc.get("Status"),
                                                        str(doc.get("AmountDue")))
                    for org in store.orgs.values()
                    for category, attribute, _ in CATEGORIES
                    for doc_id, doc in getattr(org, attribute).items()}

    def _entropy(self) -> str:
        return "".join(self._rng.choice(string.ascii_uppercase) for _ in range(20))

    def _changed(self, key, stamp, created: bool) -> None:
        if not self.enabled or not self.url:
            return
        category, tenant, doc_id = key
        path = next(p for c, _, p in CATEGORIES if c == category)
        when = stamp[0]
        event = {"resourceUrl": f"https://api.xero.com/api.xro/2.0/{path}/{doc_id}",
                 "resourceId": doc_id,
                 "eventDateUtc": when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
                 if hasattr(when, "strftime") else str(when),
                 "eventType": "CREATE" if created else "UPDATE",
                 "eventCategory": category, "tenantId": tenant,
                 "tenantType": "ORGANISATION"}
        if category == "CREDITNOTE":
            org = self.sandbox.store.org(tenant)
            doc = org.credit_notes.get(doc_id, {}) if org else {}
            event["data"] = {"Type": doc.get("Type"), "Status": doc.get("Status")}
        with self._lock:
            self.sequence += 1
            number = self.sequence
        body = json.dumps({"events": [event], "firstEventSequence": number,
                           "lastEventSequence": number, "entropy": self._entropy()}
                          ).encode()
        self.sender.send(self.url, body, {"x-xero-signature": signature(self.key, body)},
                         label=f"{category} {doc_id}")

    def configure(self, data: dict) -> dict:
        self.sender.configure(data)
        if "url" in data or "key" in data:
            self.url = str(data.get("url") or self.url or "") or None
            self.key = str(data.get("key") or self.key or "") or None
            self.enabled = False
            self.status = self.intent_to_receive()
            self.enabled = self.status == "OK"
            if self.enabled:
                self.watcher.start()
                self.watcher.forget()
        return self.state()

    def intent_to_receive(self) -> str:
        if not self.url or not self.key:
            return "not configured: both a delivery URL and a webhook key are needed"
        empty = json.dumps({"events": [], "firstEventSequence": 0, "lastEventSequence": 0,
                            "entropy": self._entropy()}).encode()
        good = self.sender.post_now(self.url, empty,
                                    {"x-xero-signature": signature(self.key, empty)})
        bad = self.sender.post_now(self.url, empty, {
            "x-xero-signature": signature(self.key + "-wrong", empty)})
        if good != 200:
            return f"Intent to receive failed: a correctly signed payload got {good}, not 200"
        if bad != 401:
            return f"Intent to receive failed: an incorrectly signed payload got {bad}, not 401"
        return "OK"

    def state(self) -> dict:
        return {"url": self.url, "status": self.status, "enabled": self.enabled,
                "faults": self.sender.faults(), "deliveries": list(self.sender.deliveries)}

    def reset(self) -> None:
        self.sender.reset()
        self.watcher.forget()


def blueprint(sandbox) -> Blueprint:
    bp = Blueprint("xero_webhooks", __name__, url_prefix="/_sandbox/xero")

    @bp.post("/webhooks")
    def configure():
        data = request.get_json(silent=True) or {}
        return respond(sandbox.webhooks.configure(data))

    @bp.get("/webhooks")
    def state():
        return respond(sandbox.webhooks.state())

    return bp
