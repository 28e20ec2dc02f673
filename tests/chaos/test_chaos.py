"""Chaos: many cycles against the sandboxes with faults injected at random from a seed.

Each step picks a record type and, by the seed, some of: Xero answering 429 (minute or
day), 500/502/503/504, a timeout, a reset, a lost response, a batch answer with elements
missing, an expired or revoked token; ConnectWise answering 5xx or dropping the
connection; a worker SIGKILLed mid-batch and run again; Redis restarted; two workers
racing one record type; CW invoices edited between cycles; Redis down for a whole
minute (FERRY_CHAOS_REDIS_DOWN seconds) while cycles keep starting; and a finance person
in the browser while cycles run (tests/chaos/person.py: a mapping edited, an exception
dismissed, Sync now for chosen records, a mapping CSV exported and imported again,
create-and-link of a contact clash pressed twice). Then the faults stop, the
cycles run until settled, and the test checks what a finance person would: every CW
document is in the right Xero org exactly once with equal totals, none lost, stuck or
silently skipped, every killed run marked interrupted.

FERRY_CHAOS_SEEDS (SQLite, default "1,2"), FERRY_CHAOS_POSTGRES_SEEDS (PostgreSQL, none
by default; `make chaos` runs some when a server answers) and FERRY_CHAOS_CYCLES (cycles
per seed, default 16) size it: CI runs the defaults, `make chaos` runs 500 cycles or more.
The figures are printed per seed and in total at the end, so a failure reproduces with
FERRY_CHAOS_SEEDS=<seed> (or FERRY_CHAOS_POSTGRES_SEEDS=<seed>).
"""
from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import httpx2
import pytest

from jobs.cycle import Pacing, mark_interrupted, run_cycle
from jobs.cycle_lock import CycleBusy
from models import Connection, SyncRecord, SyncRun, utcnow
from sandbox import catalog
from tests.chaos.person import Person
from tests.sync_e2e.helpers import duplicates, fault, money, orgs

SEEDS = [int(s) for s in os.environ.get("FERRY_CHAOS_SEEDS", "1,2").split(",") if s.strip()]
PG_SEEDS = [int(s) for s in os.environ.get("FERRY_CHAOS_POSTGRES_SEEDS", "").split(",")
            if s.strip()]
REDIS_DOWN = float(os.environ.get("FERRY_CHAOS_REDIS_DOWN", "60"))
TOTALS: Counter = Counter()     # every seed's figures, printed at the end (conftest.py)
CYCLES = int(os.environ.get("FERRY_CHAOS_CYCLES", "16"))
TYPES = ("invoice", "credit_note", "bill")
XERO_API = "/api.xro/2.0/*"
CW_API = "/v4_6_release/apis/3.0/*"
XERO_FAULTS = ("429-minute", "429-day", "500", "502", "503", "504", "timeout", "reset",
               "lost_response", "elements-missing", "token-expired", "token-revoked")
CW_FAULTS = ("500", "503", "reset", "timeout")
VISIBLE = {"synced", "exception", "waiting", "excluded"}
ORG_OF_LOCATION = {o["location_id"]: o["xero_org"] for o in catalog.OFFICES}
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _worker(database_url: str, record_type: str) -> subprocess.Popen:
    code = ("from jobs.context import job_context\n"
            "from jobs.cycle import run_cycle\n"
            "from jobs.cycle_lock import CycleBusy\n"
            "with job_context():\n"
            "    try:\n"
            f"        run_cycle({record_type!r})\n"
            "    except CycleBusy:\n"
            "        raise SystemExit(3)\n")
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT,
                            env={**os.environ, "DATABASE_URL": database_url},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Chaos:
    def __init__(self, seed, ferry, cw, xero, clock, redis_server):
        self.rng = random.Random(seed)
        self.seed, self.ferry, self.cw, self.xero = seed, ferry, cw, xero
        self.clock, self.redis = clock, redis_server
        self.pacing = Pacing(clock.sleep, clock.clock)
        self.faults = Counter()
        self.cycles = 0
        self.killed_runs: list[int] = []
        self.person = Person(ferry, random.Random(seed * 7919), ROOT)
        self.outage_at = self.rng.randint(10, max(11, CYCLES // 2))

    # -- one step --------------------------------------------------------------------
    def step(self, index: int) -> None:
        kind = self.rng.choice(TYPES)
        httpx2.delete(f"{self.xero.url}/_sandbox/faults")
        httpx2.delete(f"{self.cw.url}/_sandbox/faults")
        special = self.rng.random()
        if index == 3 or special < 0.03:
            return self.kill_mid_batch(kind)
        if index == 6 or special < 0.06:
            self.redis.restart()
            self.faults["redis restarted"] += 1
        if index == 9 or special < 0.09:
            return self.race(kind)
        if index == self.outage_at:
            return self.redis_down(REDIS_DOWN)
        if self.rng.random() < 0.3:
            self.edit_invoice()
        for _ in range(self.rng.randint(0, 2)):
            self.inject_xero()
        if self.rng.random() < 0.2:
            name = self.rng.choice(CW_FAULTS)
            fault(self.cw, kind=name, path=CW_API, nth=self.rng.randint(1, 6), times=1,
                  delay=0.2)
            self.faults[f"cw {name}"] += 1
        if self.rng.random() < 0.35:        # a person presses something meanwhile
            self.faults[f"person: {self.person.start()}"] += 1
        self.run(kind)
        self.person.join()
        if self.person.queued:              # Sync now: the worker takes the job
            self.fresh_clock_for_workers()
            self.person.run_queued()

    def redis_down(self, seconds: float) -> None:
        """Redis gone for `seconds` of real time: cycles keep starting (each stops or
        refuses with a sentence, none hangs), a person's Sync now is told the queue is
        down; then Redis comes back empty and the next cycles carry on."""
        self.redis.stop()
        self.faults["redis down a minute"] += 1
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                kind = self.rng.choice(TYPES)
                started = time.monotonic()
                self.run(kind)
                self.cycles -= 1            # counted apart: they cannot do anything
                self.faults["cycles while Redis was down"] += 1
                assert time.monotonic() - started < 60, \
                    f"a {kind} cycle hung {time.monotonic() - started:.0f} s on Redis"
                self.person.start_named("force-sync")
                self.person.join()
                self.person.forget_queued()
                time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))
        finally:
            self.redis.start()

    def inject_xero(self) -> None:
        name = self.rng.choice(XERO_FAULTS)
        method = ("PUT" if name == "elements-missing"
                  else self.rng.choice(["PUT", "POST", "GET", "*"]))
        fault(self.xero, kind=name, method=method, path=XERO_API,
              nth=self.rng.randint(1, 5), times=1, delay=0.2)
        self.faults[f"xero {name}"] += 1

    def run(self, kind: str):
        self.cycles += 1
        try:
            run = run_cycle(kind, pacing=self.pacing)
        except CycleBusy:               # a killed worker's lock on another host: wait
            return None
        except Exception as exc:        # e.g. Redis down at the very start of a cycle
            self.faults[f"cycle raised {type(exc).__name__}"] += 1
            return None
        if run.status == "stopped" and run.message and "today" in run.message:
            self.clock.offset += 12 * 3600 + 1       # the day limit: carry on tomorrow
        if run.message and "Connect Xero" in run.message or self._needs_reconnect():
            self.reconnect()
        return run

    def _needs_reconnect(self) -> bool:
        return Connection.select().where((Connection.kind == "xero") &
                                         (Connection.status != "active")).exists()

    def reconnect(self) -> None:
        """What an administrator does after a revoked grant: Connect Xero again."""
        from jobs.demo import connect_sandboxes
        connect_sandboxes(self.cw.url, self.xero.url)
        self.faults["reconnected by a person"] += 1

    def edit_invoice(self) -> None:
        store = self.cw.app.sandbox.store
        unposted = sorted(store.unposted["invoices"])
        if not unposted:
            return
        invoice_id = self.rng.choice(unposted)
        price = Decimal(self.rng.randint(1000, 90000)) / 100
        answer = httpx2.post(f"{self.cw.url}/_sandbox/invoices/{invoice_id}/edit",
                             json={"line": 0, "itemPrice": str(price)})
        if answer.status_code == 200:
            self.faults["cw invoice edited"] += 1

    def kill_mid_batch(self, kind: str) -> None:
        """A worker killed while Xero holds its batch write; Xero still commits it."""
        self.fresh_clock_for_workers()
        fault(self.xero, kind="slow", method="PUT", path="/api.xro/2.0/*", nth=1, delay=2)
        worker = _worker(self.ferry.config["DATABASE_URL"], kind)
        rules = self.xero.app.xero.kit.faults
        deadline = time.monotonic() + 60
        while rules.rules() and rules.rules()[0]["fired"] == 0 and worker.poll() is None \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        before = {r.id for r in SyncRun.select(SyncRun.id)}
        worker.kill()
        worker.wait()
        time.sleep(2.2)
        self.killed_runs += [r.id for r in SyncRun.select().where(
            (SyncRun.status == "running") & SyncRun.id.not_in(before or {0}))] or [
            r.id for r in SyncRun.select().where(SyncRun.status == "running")]
        self.faults["worker SIGKILLed mid-batch"] += 1
        self.cycles += 1
        self.run(kind)

    def race(self, kind: str) -> None:
        """Two workers start the same record type at once: one runs, one is turned away."""
        self.fresh_clock_for_workers()
        workers = [_worker(self.ferry.config["DATABASE_URL"], kind) for _ in range(2)]
        codes = sorted(w.wait(timeout=300) for w in workers)
        assert codes in ([0, 0], [0, 3]), codes
        self.faults["two workers raced"] += 1
        self.cycles += 2

    # -- the end -------------------------------------------------------------------------
    def settle(self) -> None:
        httpx2.delete(f"{self.xero.url}/_sandbox/faults")
        httpx2.delete(f"{self.cw.url}/_sandbox/faults")
        self.clock.offset += 12 * 3600 + 1
        if self._needs_reconnect():
            self.reconnect()
        for _ in range(3):
            for kind in TYPES:
                self.run(kind)

    def describe(self, number: str) -> list:
        """What Ferry knows of a number, for a failure's message."""
        from models import RecordEvent
        out = []
        for r in SyncRecord.select().where(SyncRecord.cw_number == number):
            events = [(e.run_id, e.kind, e.message[:80]) for e in
                      RecordEvent.select().where(RecordEvent.record == r.id)
                      .order_by(RecordEvent.id)]
            out.append({"type": r.record_type, "state": r.state, "xero_id": r.xero_id,
                        "org": r.org_id, "unknown_since": str(r.unknown_since),
                        "problems": r.problems, "events": events})
        return out

    def last_runs(self, record_type: str) -> list:
        return [(r.id, r.status, r.read, r.written, r.skipped, r.exceptions,
                 str(r.started_at)[11:19], (r.message or "")[:60])
                for r in SyncRun.select().where(SyncRun.record_type == record_type)
                .order_by(SyncRun.id.desc()).limit(8)]

    def fresh_clock_for_workers(self) -> None:
        """Child workers run on real time while this process moved its clock (Retry-After,
        the day limit): forget the governor's minute windows so a child does not wait for
        slots this process's clock put hours ahead."""
        from jobs.queue import get_redis
        client = get_redis()
        keys = list(client.scan_iter("ferry:xero:governor*"))
        if keys:
            client.delete(*keys)

    def verify(self) -> dict:
        records = list(SyncRecord.select())
        by_xero_id = {r.xero_id: r for r in records if r.xero_id}
        store = self.cw.app.sandbox.store
        invoices = store.table("finance/invoices")
        dups, lost, wrong_org, unequal, stuck = [], [], [], [], []
        org_of = {c.id: c.name for c in Connection.select().where(Connection.kind == "xero")}
        documents = 0
        for name, org in orgs(self.xero).items():
            dups += [f"{name}: {k} x{n}" for k, n in duplicates(org).items()]
            live = [d for d in list(org.invoices.values()) + list(org.credit_notes.values())
                    if d.get("Status") not in ("DELETED", "VOIDED")]
            documents += len(live)
            for doc in live:
                doc_id = doc.get("InvoiceID") or doc.get("CreditNoteID")
                record = by_xero_id.get(doc_id)
                if record is None:
                    number = doc.get("InvoiceNumber") or doc.get("CreditNoteNumber")
                    writes = [(e["time"], e["method"], e["path"], e.get("fault"),
                               e["headers"].get("Xero-Tenant-Id") or e["headers"].get(
                                   "xero-tenant-id"))
                              for e in self.xero.app.xero.kit.journal.entries()
                              if doc_id in str(e.get("response") or "")][:3]
                    runs = [(r.id, r.record_type, r.status, r.message)
                            for r in SyncRun.select().order_by(SyncRun.id).limit(6)]
                    writes += [(e["time"][11:19], e["method"], e["path"], e.get("fault"),
                                e.get("status"), str(e.get("response"))[:300])
                               for e in self.xero.app.xero.kit.journal.entries(
                                   path="/api.xro/2.0/CreditNotes")][:4]
                    dups.append(f"{name}: {number} ({doc_id}) is in Xero but no record holds "
                                f"it; records of that number: {self.describe(number)}; "
                                f"first answers naming it: {writes}; runs: {runs}")
                    continue
                if org_of.get(record.org_id) != name:
                    wrong_org.append(record.cw_number)
                if record.record_type == "bill":
                    cw_total = record.cw_total
                else:
                    cw_total = invoices[record.cw_id]["total"]
                    location = invoices[record.cw_id].get("locationId")
                    if ORG_OF_LOCATION.get(location, name) != name:
                        wrong_org.append(record.cw_number)
                if record.state == "synced" and cw_total is not None and \
                        abs(money(doc["Total"])) != abs(money(cw_total)):
                    from models import Setting
                    info = (invoices[record.cw_id].get("_info") or {}).get("lastUpdated") \
                        if record.record_type != "bill" else None
                    unequal.append(f"{record.cw_number}: Xero {doc['Total']} CW {cw_total}; "
                                   f"CW lastUpdated {info}, watermark "
                                   f"{Setting.get_value('sync.watermark.' + record.record_type)}"
                                   f", record cw_updated_at {record.cw_updated_at}; last "
                                   f"runs {self.last_runs(record.record_type)}; "
                                   f"{self.describe(record.cw_number)}")
        for cw_id in store.unposted["invoices"]:
            record = next((r for r in records if r.cw_id == cw_id
                           and r.record_type in ("invoice", "credit_note")), None)
            if record is None or record.state not in VISIBLE:
                lost.append(invoices[cw_id]["invoiceNumber"])
        for record in records:
            if record.state not in VISIBLE:
                lost.append(f"{record.record_type} {record.cw_number} left {record.state}")
            elif record.state == "synced" and record.xero_id is None:
                lost.append(f"{record.record_type} {record.cw_number} synced without a document")
            if record.unknown_since is not None and record.xero_id is None and \
                    record.state != "exception":
                stuck.append(record.cw_number)
        contact_dups = []
        for name, org in orgs(self.xero).items():
            numbers = Counter((c.get("ContactNumber") or "").strip()
                              for c in org.contacts.values()
                              if c.get("ContactStatus") != "ARCHIVED")
            contact_dups += [f"{name}: contact number {k} x{n}"
                             for k, n in numbers.items() if k and n > 1]
        return {"documents": documents, "duplicates": dups,
                "duplicate contacts": contact_dups, "lost": lost,
                "wrong org": wrong_org, "unequal totals": unequal, "stuck": stuck}


PROBLEMS = ("duplicates", "duplicate contacts", "lost", "wrong org", "unequal totals",
            "stuck")


@pytest.mark.parametrize("seed", sorted(set(SEEDS) | set(PG_SEEDS)))
def test_chaos_never_twice_never_lost(ferry, cw, xero, clock, private_redis, seed):
    on_postgres = ferry.config["DATABASE_URL"].startswith("postgresql")
    if seed not in (PG_SEEDS if on_postgres else SEEDS):
        pytest.skip(f"seed {seed} is not asked for on "
                    f"{'PostgreSQL (FERRY_CHAOS_POSTGRES_SEEDS)' if on_postgres else 'SQLite'}")
    chaos = Chaos(seed, ferry, cw, xero, clock, private_redis)
    print(f"\nchaos seed {seed}: {CYCLES} steps")
    index = 0
    while chaos.cycles < CYCLES:
        chaos.step(index)
        index += 1
    chaos.settle()
    figures = chaos.verify()
    interrupted = mark_interrupted(utcnow() + timedelta(minutes=5))
    still_running = [r.id for r in SyncRun.select().where(SyncRun.status == "running")]
    killed = SyncRun.select().where(SyncRun.id.in_(chaos.killed_runs or [0]))
    where = "PostgreSQL" if on_postgres else "SQLite"
    counts = {"seeds": 1, "cycles run": chaos.cycles, **chaos.faults,
              **{f"{k} (person)": n for k, n in chaos.person.done.items()},
              "documents in Xero": figures["documents"],
              **{name: len(figures[name]) for name in PROBLEMS},
              "person's errors": len(chaos.person.errors),
              "runs marked interrupted": interrupted}
    TOTALS.update({f"{where}: {k}": n for k, n in counts.items()})
    line = f"chaos seed {seed} on {where}: " + "; ".join(
        f"{k} {n}" for k, n in counts.items() if k != "seeds")
    print(line)
    if os.environ.get("FERRY_CHAOS_FIGURES"):   # parallel sweeps: xdist hides the prints
        with open(os.environ["FERRY_CHAOS_FIGURES"], "a") as figures_file:
            figures_file.write(line + "\n")
    for name in PROBLEMS:
        for line in figures[name]:
            print(f"chaos seed {seed}: {name}: {line}")
    for line in sorted(set(chaos.person.refusals)):
        print(f"chaos seed {seed}: a person was told: {line}")
    for line in chaos.person.errors:
        print(f"chaos seed {seed}: a person's action failed: {line}")
    TOTALS[f"{where}: seeds failed"] += bool(
        any(figures[n] for n in PROBLEMS) or chaos.person.errors)
    assert figures["duplicates"] == [], figures["duplicates"]
    assert figures["duplicate contacts"] == [], figures["duplicate contacts"]
    assert figures["lost"] == [], figures["lost"]
    assert figures["wrong org"] == [], figures["wrong org"]
    assert figures["unequal totals"] == [], figures["unequal totals"]
    assert figures["stuck"] == [], figures["stuck"]
    assert still_running == []
    assert chaos.person.errors == [], chaos.person.errors
    assert all(r.status == "interrupted" and "stopped responding at" in r.message
               for r in killed), \
        [(r.id, r.status) for r in killed]
    # Every failure is visible: a stopped or failed run says why.
    assert all(r.message for r in SyncRun.select().where(
        SyncRun.status.in_(("stopped", "failed"))))
