"""ConnectWise callbacks: when an invoice (credit memos are invoices in CW) or a purchase
order is saved, every active callback registered for its type (level `Owner`: all of
them; any other level: the one whose objectId is the record's id) is POSTed a summary.

The body, as ConnectWise sends it (sandbox/FIDELITY.md, "Callbacks"): `Action`
("added", "updated"; "deleted" is not simulated), `Type`, `ID`, `Entity` (the record as
JSON text), plus `MessageId`, `FromUrl`, `CompanyId`, `MemberId` (assumed).

Controls: `POST /_sandbox/callbacks/faults` {lose, duplicate, delay, delay_seconds,
seed} sets the delivery faults; `GET /_sandbox/callbacks/deliveries` lists what was
sent (url with its secret, status, fault).
"""
from __future__ import annotations

import json
import uuid

from flask import Flask, request

from sandbox.webhooks import Sender, Watcher

from . import jsonout

TABLES = {"Invoice": "finance/invoices", "PurchaseOrder": "procurement/purchaseorders"}


class Callbacks:
    def __init__(self, sandbox, seed: int = 0):
        self.sandbox = sandbox
        self.sender = Sender(seed)
        self.watcher = Watcher(self._snapshot, self._changed)

    def _snapshot(self) -> dict:
        store = self.sandbox.store
        with store.lock:
            return {(kind, record_id): (record.get("_info") or {}).get("lastUpdated")
                    for kind, table in TABLES.items()
                    for record_id, record in store.table(table).items()}

    def _changed(self, key, stamp, created: bool) -> None:
        kind, record_id = key
        store = self.sandbox.store
        with store.lock:
            record = store.table(TABLES[kind]).get(record_id)
            hooks = [dict(c) for c in store.table("system/callbacks").values()
                     if str(c.get("type", "")).lower() == kind.lower()
                     and not c.get("inactiveFlag")
                     and (str(c.get("level", "")).lower() == "owner"
                          or int(c.get("objectId") or 0) == record_id)]
            entity = jsonout.dumps(record) if record is not None else None
        for hook in hooks:
            body = json.dumps({
                "MessageId": str(uuid.uuid4()), "FromUrl": "sandbox.connectwise",
                "CompanyId": self.sandbox.settings.company, "MemberId": "admin1",
                "Action": "added" if created else "updated", "Type": kind,
                "ID": record_id, "Entity": entity}).encode()
            self.sender.send(hook["url"], body, {}, label=f"{kind} {record_id}")

    def registered(self) -> None:
        """A callback was registered: start watching (from what is there now)."""
        self.watcher.start()

    def reset(self) -> None:
        self.sender.reset()
        self.watcher.forget()


def register(app: Flask, sandbox) -> None:
    @app.post("/_sandbox/callbacks/faults")
    def callback_faults():
        body = request.get_json(silent=True) or {}
        return sandbox.callbacks.sender.configure(body)

    @app.get("/_sandbox/callbacks/deliveries")
    def callback_deliveries():
        return {"deliveries": list(sandbox.callbacks.sender.deliveries)}
