"""Ferry's tables (peewee). The schema itself is built by the versioned files in
migrations/; these classes describe the head of that history.

No connection is opened at import time: `db` is a proxy bound by create_app(), and each
request and job opens and closes its own connection (RQ workers fork).
"""
import json
from datetime import datetime, timezone

from peewee import (
    BooleanField, CharField, DatabaseProxy, DateField, DateTimeField, DecimalField, FloatField,
    ForeignKeyField, IntegerField, Model,
    TextField,
)

import security

db = DatabaseProxy()


def utcnow() -> datetime:
    """Naive UTC, the form both SQLite and PostgreSQL store without surprises."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


class EncryptedTextField(TextField):
    """Text encrypted with Fernet before it reaches the database."""

    def db_value(self, value):
        return None if value is None else security.encrypt(value)

    def python_value(self, value):
        return None if value is None else security.decrypt(value)


class JSONTextField(TextField):
    def db_value(self, value):
        return None if value is None else json.dumps(value, sort_keys=True)

    def python_value(self, value):
        return None if value is None else json.loads(value)


class EncryptedJSONField(EncryptedTextField):
    def db_value(self, value):
        return None if value is None else super().db_value(json.dumps(value, sort_keys=True))

    def python_value(self, value):
        return None if value is None else json.loads(super().python_value(value))


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


class User(BaseModel):
    email = CharField(unique=True)
    password_hash = CharField()
    # Kept equal to role == "administrator" (save() below): older code and backups read it.
    is_admin = BooleanField(default=True)
    created_at = DateTimeField(default=utcnow)
    last_login_at = DateTimeField(null=True)
    # viewer | finance | administrator (blueprints/roles.py; migration 0017_roles)
    role = CharField(default="administrator")

    def save(self, *args, **kwargs):
        self.is_admin = self.role == "administrator"
        return super().save(*args, **kwargs)


class LoginFailure(BaseModel):
    """One failed sign-in; recent rows throttle further attempts."""
    email = CharField(index=True)
    ip = CharField(index=True)
    at = DateTimeField(default=utcnow, index=True)


class Setting(BaseModel):
    """Application settings edited in the browser. Secret ones are encrypted."""
    key = CharField(unique=True)
    value = JSONTextField(null=True)
    secret = EncryptedTextField(null=True)

    @classmethod
    def get_value(cls, key: str, default=None):
        row = cls.get_or_none(cls.key == key)
        if row is None:
            return default
        return row.secret if row.secret is not None else row.value

    @classmethod
    def set_value(cls, key: str, value, *, secret: bool = False) -> None:
        fields = {"value": None, "secret": value} if secret else {"value": value, "secret": None}
        updated = cls.update(**fields).where(cls.key == key).execute()
        if not updated:
            cls.create(key=key, **fields)


class Connection(BaseModel):
    """A link to ConnectWise (one) or to a Xero organisation (one row per tenant)."""
    kind = CharField(index=True)                 # 'connectwise' | 'xero'
    name = CharField()
    status = CharField(default="active")         # active | needs_reconnect | disabled
    settings = JSONTextField(default=dict)       # non-secret settings
    secrets = EncryptedJSONField(null=True)      # keys and tokens, encrypted
    tenant_id = CharField(null=True, index=True)
    last_error = TextField(null=True)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    def save(self, *args, **kwargs):
        self.updated_at = utcnow()
        return super().save(*args, **kwargs)




# --- Xero grants (connectors/xero_oauth.py; migration 0003_xero_grants) ---------------
class XeroGrant(BaseModel):
    """One consent given in Xero: the token set shared by the organisations it covers.

    Connection rows of kind 'xero' name their grant in settings["grant_id"] and their
    Xero connection id in settings["xero_connection_id"]."""
    token = EncryptedJSONField(null=True)        # access_token, refresh_token, expires_at
    scopes = TextField(default="")
    auth_event_id = CharField(null=True)
    status = CharField(default="active")         # active | needs_reconnect | revoked
    last_error = TextField(null=True)
    refreshed_at = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    def save(self, *args, **kwargs):
        self.updated_at = utcnow()
        return super().save(*args, **kwargs)


# --- The sync engine (jobs/cycle.py; migration 0004_sync) ------------------------------
RECORD_STATES = ("pending", "in_flight", "waiting", "synced", "exception", "excluded")


class SyncRun(BaseModel):
    """One cycle of one record type (scheduled, forced, or from the command line)."""
    record_type = CharField(index=True)          # invoice | credit_note | bill
    trigger = CharField(default="schedule")      # schedule | force | cli
    status = CharField(default="running")        # running | done | failed | stopped
    started_at = DateTimeField(default=utcnow, index=True)
    finished_at = DateTimeField(null=True)
    read = IntegerField(default=0)
    written = IntegerField(default=0)
    skipped = IntegerField(default=0)
    exceptions = IntegerField(default=0)
    cw_calls = IntegerField(default=0)
    xero_calls = IntegerField(default=0)
    message = TextField(null=True)


class SyncRecord(BaseModel):
    """A ConnectWise record and what Ferry did with it in Xero."""
    record_type = CharField()
    cw_id = IntegerField()
    cw_number = CharField(null=True, index=True)
    org = ForeignKeyField(Connection, null=True, backref="records", on_delete="SET NULL")
    state = CharField(default="pending", index=True)
    xero_id = CharField(null=True)
    version_hash = CharField(null=True)          # what Ferry last meant to write
    synced_hash = CharField(null=True)           # what Xero last accepted
    cw_total = DecimalField(max_digits=16, decimal_places=2, null=True)
    rounding = DecimalField(max_digits=16, decimal_places=2, null=True)
    cw_updated_at = DateTimeField(null=True)
    problems = JSONTextField(null=True)          # sentences, while in exception
    last_run = ForeignKeyField(SyncRun, null=True, on_delete="SET NULL")
    updated_at = DateTimeField(default=utcnow, index=True)

    class Meta:
        indexes = ((("record_type", "cw_id"), True),)

    def save(self, *args, **kwargs):
        self.updated_at = utcnow()
        exception_clock(self, self.updated_at)
        return super().save(*args, **kwargs)


# States that end an exception; "pending" and "in_flight" are a re-try under way, which
# keeps the time it was first raised.
LEFT_EXCEPTION = ("synced", "excluded", "waiting")


def exception_clock(record, now) -> None:
    """Keep `exception_since` (migration 0018) true on an unsaved record: set when it
    first enters exception, kept across re-tries that fail again, cleared once it leaves."""
    if record.state == "exception":
        if record.exception_since is None:
            record.exception_since = now
    elif record.state in LEFT_EXCEPTION:
        record.exception_since = None


class RecordEvent(BaseModel):
    """A line in a record's history ("written to Xero", "credit left unallocated"...)."""
    record = ForeignKeyField(SyncRecord, backref="events", on_delete="CASCADE")
    run = ForeignKeyField(SyncRun, null=True, on_delete="SET NULL")
    at = DateTimeField(default=utcnow)
    kind = CharField()                           # created | updated | exception | note ...
    message = TextField()


class MeteredVersion(BaseModel):
    """Each record version that crossed the wire, counted once for the month."""
    record_type = CharField()
    cw_id = IntegerField()
    version_hash = CharField()
    month = CharField(index=True)                # "2026-11"
    at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("record_type", "cw_id", "version_hash"), True),)


class ContactLink(BaseModel):
    """A CW company and the Xero contact it became in one org."""
    org = ForeignKeyField(Connection, on_delete="CASCADE")
    cw_company_id = IntegerField()
    xero_contact_id = CharField()
    details_hash = CharField(null=True)

    class Meta:
        indexes = ((("org", "cw_company_id"), True),)


class XeroCreation(BaseModel):
    """Something Ferry creates in a Xero org (a contact), recorded before the create goes
    out, so that it is made once however many presses or cycles ask for it at once or
    again later; see jobs/xero_creations.py. `key` is what it is on Ferry's side (for a
    contact, the CW company id); `state` creating | unknown (sent, no answer) | created."""
    org = ForeignKeyField(Connection, on_delete="CASCADE")
    kind = CharField()
    key = CharField()
    state = CharField()
    token = CharField()                          # the attempt creating it now
    claimed_at = DateTimeField()                 # when that attempt started
    xero_id = CharField(null=True)
    name = CharField(null=True)                  # as sent, for the sentences

    class Meta:
        indexes = ((("org", "kind", "key"), True),)


class RoutingRule(BaseModel):
    """Send records with `field` = `value` to `org`; lower position is tried first."""
    position = IntegerField(default=0)
    field = CharField()                          # location | department | member | tag | company_type
    value = CharField()
    org = ForeignKeyField(Connection, on_delete="CASCADE")
    record_type = CharField(null=True)           # None: every record type


class AccountMapping(BaseModel):
    org = ForeignKeyField(Connection, on_delete="CASCADE")
    cw_account = CharField()
    xero_code = CharField()

    class Meta:
        indexes = ((("org", "cw_account"), True),)


class TaxMapping(BaseModel):
    org = ForeignKeyField(Connection, on_delete="CASCADE")
    side = CharField()                           # sales | purchases
    cw_tax_code = CharField()
    xero_tax_type = CharField()

    class Meta:
        indexes = ((("org", "side", "cw_tax_code"), True),)


class TrackingMapping(BaseModel):
    org = ForeignKeyField(Connection, on_delete="CASCADE")
    category = CharField()                       # the Xero tracking category name
    source = CharField()                         # location | department
    cw_id = IntegerField()
    option = CharField()

    class Meta:
        indexes = ((("org", "category", "cw_id"), True),)


class ItemMapping(BaseModel):
    org = ForeignKeyField(Connection, on_delete="CASCADE")
    cw_item = CharField()
    xero_item_code = CharField()

    class Meta:
        indexes = ((("org", "cw_item"), True),)


class OrgRecordSetting(BaseModel):
    """How one record type is written to one org (status, amounts tax-inclusive or not)."""
    org = ForeignKeyField(Connection, on_delete="CASCADE")
    record_type = CharField()
    status = CharField(default="DRAFT")
    line_amount_types = CharField(default="Exclusive")

    class Meta:
        indexes = ((("org", "record_type"), True),)


# --- Audit log (connectors/ records every HTTP call; jobs/audit.py writes and purges) ---
class AuditEntry(BaseModel):
    """One HTTP call to ConnectWise or Xero, secrets already masked. No foreign keys on
    purpose: the trail outlives the connections and runs it mentions."""
    at = DateTimeField(index=True)               # when the call started, naive UTC
    api = CharField(index=True)                  # connectwise | xero
    connection_id = IntegerField(null=True)
    method = CharField()
    url = TextField()
    status = IntegerField(null=True, index=True)  # None: no answer (timeout, reset)
    duration_ms = FloatField()
    request_headers = JSONTextField(null=True)
    request_body = TextField(null=True)
    response_headers = JSONTextField(null=True)
    response_body = TextField(null=True)
    error = TextField(null=True)
    run_id = IntegerField(null=True, index=True)
    # One record's call: "invoice:1377". A call that carried several (a batch write of up
    # to 50, a look-up of many) has just the type here ("invoice:", so the type filter's
    # range on this index still finds it) and their CW ids in record_refs (",1377,1378,",
    # commas at both ends so one id is found by substring; migration 0011_audit_batches).
    record_ref = CharField(null=True, index=True)
    record_refs = TextField(null=True)


# --- Alerts and the outbox (jobs/outbox.py, jobs/alerts.py; migration 0008_alerts) ------
class OutboxMail(BaseModel):
    """Every e-mail Ferry sends, written here before any attempt to send it.

    `key` names what the mail announces ("run:12", "digest:2026-11-29", "incident:3:open")
    so the same news is never queued twice; test mails and resends have none."""
    key = CharField(null=True, unique=True)
    kind = CharField(index=True)                 # exceptions | digest | incident | resolved | test
    recipients = JSONTextField(default=list)
    subject = CharField(max_length=300)
    text = TextField()
    html = TextField(null=True)
    status = CharField(default="pending", index=True)   # pending | sending | sent | failed
    attempts = IntegerField(default=0)
    next_attempt_at = DateTimeField(default=utcnow, index=True)
    claimed_at = DateTimeField(null=True)
    last_error = TextField(null=True)
    created_at = DateTimeField(default=utcnow, index=True)
    sent_at = DateTimeField(null=True)


class AlertIncident(BaseModel):
    """A failure that needs a person (a connection to reconnect, a day limit, cycles
    failing in a row, a worker or scheduler gone): mailed once when it opens, and once
    more when it clears."""
    key = CharField(index=True)                  # what failed, e.g. "reconnect:xero:4"
    title = TextField()
    detail = TextField()
    opened_at = DateTimeField(default=utcnow)
    resolved_at = DateTimeField(null=True, index=True)


# --- Mappings in the browser (migrations/0007_mappings.py) -----------------------------
class RecordProblem(BaseModel):
    """What one exception is keyed on: a CW value with no mapping in an org (kind
    "account", "tax type", "tracking option", "contact", "routing"...). Written with the
    exception; only records still in exception count."""
    record = ForeignKeyField(SyncRecord, backref="problem_keys", on_delete="CASCADE",
                             index=True)
    org = ForeignKeyField(Connection, null=True, on_delete="CASCADE")
    kind = CharField()
    cw_value = CharField()
    label = CharField(null=True)                 # the CW name, when the key is an id
    amount = DecimalField(max_digits=16, decimal_places=2, null=True)   # the record's total
    at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("kind", "cw_value"), False),)


class ChoiceList(BaseModel):
    """A choice list of the mapping screens as the API last gave it (jobs/choices.py)."""
    source = CharField()                         # connectwise | xero
    org_id = CharField(default="")               # the Xero org's connection id, or ""
    kind = CharField()
    items = JSONTextField()                      # [{"value":..., "label":..., "active":...}]
    fetched_at = DateTimeField(default=utcnow)
    error = TextField(null=True)

    class Meta:
        indexes = ((("source", "org_id", "kind"), True),)


# --- Record facts for the pages (migrations/0009_record_facts.py) ----------------------
# Columns on SyncRecord that the records pages show, filter and sort by: added here,
# beside their migration, so the class above stays as the sync engine wrote it.
for _name, _field in (
        ("party_name", CharField(null=True, index=True)),      # customer or vendor
        ("doc_date", DateField(null=True, index=True)),        # the document's own date
        ("currency", CharField(max_length=3, null=True)),
        ("xero_status", CharField(null=True)),                 # DRAFT, AUTHORISED, PAID...
        ("amount_due", DecimalField(max_digits=16, decimal_places=2, null=True)),
        ("amount_paid", DecimalField(max_digits=16, decimal_places=2, null=True))):
    SyncRecord._meta.add_field(_name, _field)


# --- Payment back-sync (migrations/0006_payments.py) -----------------------------------
class PaymentLedger(BaseModel):
    """What Ferry applied in ConnectWise on one CW invoice, written before (`intent`) and
    after (`applied`, `cw_payment_id`) each CW call: an intent left behind by a lost
    answer or a crash is settled by reading CW's payments first, never by re-applying."""
    org = ForeignKeyField(Connection, null=True, on_delete="SET NULL")
    cw_invoice_id = IntegerField(unique=True)
    cw_number = CharField(null=True)
    xero_invoice_id = CharField(null=True, index=True)
    match_rule = CharField(null=True)            # ferry_wrote | number_customer_amount
    cw_payment_id = IntegerField(null=True)      # CW allows one payment per invoice
    applied = DecimalField(max_digits=16, decimal_places=2, default=0)
    intent = DecimalField(max_digits=16, decimal_places=2, null=True)
    intent_at = DateTimeField(null=True)
    applied_at = DateTimeField(null=True)
    xero_received = DecimalField(max_digits=16, decimal_places=2, null=True)
    currency = CharField(null=True)
    updated_at = DateTimeField(default=utcnow)

    def save(self, *args, **kwargs):
        self.updated_at = utcnow()
        return super().save(*args, **kwargs)


class XeroPaymentSeen(BaseModel):
    """A Xero payment (or overpayment/prepayment allocation) on an invoice, as Ferry last
    read it, and when its amount reached ConnectWise (for the record page)."""
    org = ForeignKeyField(Connection, null=True, on_delete="CASCADE")
    xero_id = CharField()                        # PaymentID / OverpaymentID / PrepaymentID
    kind = CharField()                           # payment | overpayment | prepayment
    xero_invoice_id = CharField(null=True, index=True)
    cw_invoice_id = IntegerField(null=True, index=True)
    date = DateField(null=True)
    amount = DecimalField(max_digits=16, decimal_places=2)
    status = CharField()                         # AUTHORISED | DELETED
    cw_payment_id = IntegerField(null=True)
    applied_at = DateTimeField(null=True)
    seen_at = DateTimeField(default=utcnow)
    note = TextField(null=True)

    class Meta:
        indexes = ((("org", "xero_id", "xero_invoice_id"), True),)


# --- Lean and live cycles (jobs/reference_cache.py, jobs/cycle.py; 0005_cycle_live) ---
class XeroReference(BaseModel):
    """One org's Xero reference data of one kind (tax_rates, accounts,
    tracking_categories, currencies, organisation) as Xero last gave it; exact JSON
    (Decimal kept). jobs/reference_cache.py refreshes it."""
    org = ForeignKeyField(Connection, backref="reference_data", on_delete="CASCADE")
    kind = CharField()
    data = TextField()
    fetched_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("org", "kind"), True),)


# A running cycle's live progress, read by the dashboard: `total` records to do, `done`
# so far, `waiting_until` while it waits for Xero's minute limit, `heartbeat_at` renewed
# while its worker lives (a stale one means the worker died: status "interrupted").
for _name, _field in (
        ("total", IntegerField(null=True)),
        ("done", IntegerField(default=0)),
        ("waiting_until", DateTimeField(null=True)),
        ("heartbeat_at", DateTimeField(null=True)),
        ("waiting", IntegerField(default=0)),       # read = written + skipped + exceptions
        ("excluded", IntegerField(default=0))):     #        + waiting + excluded
    SyncRun._meta.add_field(_name, _field)
# Set when a write of the record went out and Xero's answer did not say what became of it
# (element missing, timeout, reset): the record is looked up in Xero before any create.
SyncRecord._meta.add_field("unknown_since", DateTimeField(null=True))
# When it first entered exception, while it is in one (migration 0018; exception_clock).
SyncRecord._meta.add_field("exception_since", DateTimeField(null=True, index=True))
# When its last write went out (migration 0012): a write whose answer never came may
# still be finishing in Xero, so it is looked up only some minutes after this.
SyncRecord._meta.add_field("sent_at", DateTimeField(null=True))


# --- Sign-in security (blueprints/auth.py; migration 0010_sessions) --------------------
class SessionVersion(BaseModel):
    """A user's session version: every session carries the number it was signed in
    under, and one that differs is over. Signing out, a password change and "sign out
    everywhere" bump it, which ends every copy of that user's session cookie at once."""
    user = ForeignKeyField(User, primary_key=True, on_delete="CASCADE")
    version = IntegerField(default=0)


def payments_of(record) -> dict | None:
    """What the record page shows under Payments, for an invoice or a payment record:
    the ledger (what Ferry applied in CW) and each Xero payment behind it."""
    if record.record_type not in ("invoice", "payment"):
        return None
    if record.cw_id < 0:            # a payment record of something only Xero has
        entries = list(XeroPaymentSeen.select().where(XeroPaymentSeen.id == -record.cw_id))
        return {"ledger": None, "entries": entries}
    entries = list(XeroPaymentSeen.select().where(XeroPaymentSeen.cw_invoice_id == record.cw_id)
                   .order_by(XeroPaymentSeen.date, XeroPaymentSeen.id))
    ledger = PaymentLedger.get_or_none(PaymentLedger.cw_invoice_id == record.cw_id)
    return {"ledger": ledger, "entries": entries} if ledger or entries else \
        {"ledger": None, "entries": []}


# --- Reconciliation reports (jobs/reconcile.py; migration 0015_reconciliation) ---------
class Reconciliation(BaseModel):
    """One reconciliation of one org and month: ConnectWise's documents Ferry routes to
    the org against what Xero holds (sync/reconcile.py compares). `result` is the report
    (figures and differences, money as strings); `differences` the documents that
    differ; `xero_calls`/`cw_calls` what reading cost. Nothing is changed in Xero."""
    org = ForeignKeyField(Connection, null=True, on_delete="SET NULL")
    org_name = CharField()
    month = CharField(index=True)                # "2026-11"
    status = CharField(default="queued")         # queued | running | done | failed
    trigger = CharField(default="page")          # page | cli
    started_at = DateTimeField(default=utcnow, index=True)
    finished_at = DateTimeField(null=True)
    differences = IntegerField(null=True)
    xero_calls = IntegerField(default=0)
    cw_calls = IntegerField(default=0)
    result = JSONTextField(null=True)
    message = TextField(null=True)


# --- People and roles (blueprints/people.py; migration 0017_roles) ---------------------
class AccountLink(BaseModel):
    """A one-time link an administrator sent: an invitation (`role` set) or a password
    reset. Only the SHA-256 of its token is kept; it works once, until `expires_at`."""
    purpose = CharField()                        # invite | reset
    email = CharField(index=True)
    role = CharField(null=True)                  # invite: the role the person gets
    token_hash = CharField(unique=True)
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()
    used_at = DateTimeField(null=True)


class MappingChange(BaseModel):
    """Who changed which mapping when (routing rules, the per-org maps, how records are
    written, contact links, CSV imports). No foreign keys: the history outlives people
    and organisations."""
    at = DateTimeField(default=utcnow, index=True)
    user_email = CharField(null=True)            # None: a command-line import
    org_name = CharField(null=True)
    area = CharField(index=True)                 # routing | accounts | tax | ... | import
    action = CharField()                         # added | changed | deleted | imported
    detail = TextField()
