"""Indexes over an org's invoices, credit notes and contacts, so that checking a number's
uniqueness or finding a contact by name does not scan every record (a batch of 50 into
an org holding 9,000 invoices scanned 450,000 of them).

An index only narrows the search: every caller checks the records it gets back with the
same test the full scan used, in the records' own order, so an answer never depends on
the index being fresh. It must never miss, though, so whoever stores a record calls
`noted()`; a records dict that was replaced, or grew without a note, is indexed again.
"""
from __future__ import annotations

from typing import Callable


def document_number(number_key: str) -> Callable[[dict], str | None]:
    return lambda doc: (doc.get(number_key) or "").lower()


def contact_number(contact: dict) -> str | None:
    number = contact.get("ContactNumber")
    return number if isinstance(number, str) else None   # looked up by text only


def contact_name(contact: dict) -> str | None:
    name = contact.get("Name")
    return name.strip().lower() if isinstance(name, str) else None


class Lookup:
    """Record ids by one key of the records, for one records dict."""

    def __init__(self, key_of: Callable[[dict], str | None]):
        self.key_of = key_of
        self.source: dict | None = None
        self.by_key: dict[str, set[str]] = {}
        self.key_at: dict[str, str | None] = {}
        self.position: dict[str, int] = {}      # insertion order of the records dict

    def _index(self, records: dict) -> None:
        self.source, self.by_key, self.key_at, self.position = records, {}, {}, {}
        for record_id, record in records.items():
            self._put(record_id, record)

    def _put(self, record_id: str, record: dict) -> None:
        old = self.key_at.get(record_id)
        if old is not None:
            self.by_key[old].discard(record_id)
        key = self.key_of(record)
        self.key_at[record_id] = key
        self.position.setdefault(record_id, len(self.position))
        if key is not None:
            self.by_key.setdefault(key, set()).add(record_id)

    def _fresh(self, records: dict) -> None:
        if records is not self.source or len(records) != len(self.position):
            self._index(records)

    def noted(self, records: dict, record_id: str) -> None:
        """`records[record_id]` was just stored (new, or replaced)."""
        if (records is not self.source
                or len(records) != len(self.position) + (record_id not in self.position)):
            self._index(records)
        else:
            self._put(record_id, records[record_id])

    def find(self, records: dict, key: str) -> list[dict]:
        """The records that may hold `key`, in the records dict's order."""
        self._fresh(records)
        ids = sorted((i for i in self.by_key.get(key, ()) if i in records),
                     key=self.position.__getitem__)
        return [records[i] for i in ids]


def _lookup(org, name: str, key_of) -> Lookup:
    found = org.lookups.get(name)
    if found is None:
        found = org.lookups[name] = Lookup(key_of)
    return found


def documents_numbered(org, kind, number: str) -> list[dict]:
    """Documents of `kind` whose number may be `number` (lower-case)."""
    return _lookup(org, kind.store, document_number(kind.number_key)).find(
        kind.records(org), number)


def contacts_numbered(org, number: str) -> list[dict]:
    return _lookup(org, "contact numbers", contact_number).find(org.contacts, number)


def contacts_named(org, name: str) -> list[dict]:
    """Contacts whose stripped, lower-case name may be `name`."""
    return _lookup(org, "contact names", contact_name).find(org.contacts, name)


def document_stored(org, kind, doc_id: str) -> None:
    _lookup(org, kind.store, document_number(kind.number_key)).noted(kind.records(org), doc_id)


def contact_stored(org, contact_id: str) -> None:
    _lookup(org, "contact numbers", contact_number).noted(org.contacts, contact_id)
    _lookup(org, "contact names", contact_name).noted(org.contacts, contact_id)
