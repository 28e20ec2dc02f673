"""Searching at a million audit entries and sorting 100,000 records: a trigram index
over the audit log's URL and error text (SQLite: an FTS5 trigram table kept by
triggers; PostgreSQL: pg_trgm GIN indexes, which ILIKE '%...%' uses), and an index per
sortable column of the records page, and covering indexes for the dashboard's counts. Where the database cannot build the trigram index
(no FTS5 trigram tokenizer, or no right to add pg_trgm) the search still works, by
scanning."""
from peewee import PostgresqlDatabase
from playhouse.migrate import migrate

SQLITE_TEXT = [
    "CREATE VIRTUAL TABLE audit_text USING fts5(url, error, content='audit_entry', "
    "content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER audit_text_insert AFTER INSERT ON audit_entry BEGIN "
    "INSERT INTO audit_text(rowid, url, error) VALUES (new.id, new.url, new.error); END",
    "CREATE TRIGGER audit_text_delete AFTER DELETE ON audit_entry BEGIN "
    "INSERT INTO audit_text(audit_text, rowid, url, error) "
    "VALUES ('delete', old.id, old.url, old.error); END",
    "CREATE TRIGGER audit_text_update AFTER UPDATE OF url, error ON audit_entry BEGIN "
    "INSERT INTO audit_text(audit_text, rowid, url, error) "
    "VALUES ('delete', old.id, old.url, old.error); "
    "INSERT INTO audit_text(rowid, url, error) VALUES (new.id, new.url, new.error); END",
    "INSERT INTO audit_text(audit_text) VALUES ('rebuild')",
]
POSTGRES_TEXT = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX audit_entry_url_trgm ON audit_entry USING gin (url gin_trgm_ops)",
    "CREATE INDEX audit_entry_error_trgm ON audit_entry USING gin (error gin_trgm_ops)",
]
# PostgreSQL reads an index backwards with its NULLs first; the records page sorts empty
# values last both ways, so descending sorts get indexes of their own. A number's prefix
# search (LIKE '1004%') needs the pattern operator class under a non-C collation.
POSTGRES_RECORDS = [
    f"CREATE INDEX sync_record_{c}_desc ON sync_record ({c} DESC NULLS LAST)"
    for c in ("cw_total", "amount_due", "amount_paid", "doc_date", "party_name",
              "xero_status", "currency", "cw_number")
] + ["CREATE INDEX sync_record_cw_number_prefix ON sync_record "
     "(cw_number text_pattern_ops)"]


def upgrade(db, migrator):
    migrate(*[migrator.add_index("sync_record", (column,), False) for column in (
        "cw_total", "amount_due", "amount_paid", "xero_status", "currency")],
            # The live dashboard's counts, answered from these indexes alone.
            migrator.add_index("sync_record", ("state", "record_type", "org_id"), False),
            migrator.add_index("metered_version", ("month", "record_type"), False))
    if isinstance(db, PostgresqlDatabase):
        for sql in POSTGRES_RECORDS:
            db.execute_sql(sql)
    statements = POSTGRES_TEXT if isinstance(db, PostgresqlDatabase) else SQLITE_TEXT
    try:
        with db.atomic():                     # a savepoint: a refusal undoes only this
            for sql in statements:
                db.execute_sql(sql)
    except Exception:  # noqa: BLE001 - any refusal leaves the scan as the search
        pass
