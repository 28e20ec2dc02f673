"""Writing to Xero in batches: at most 50 elements and 3.5 MB a request, each element's
outcome read back on its own, and an Idempotency-Key derived from what is written.

With `summarizeErrors=false` Xero answers 200 and marks every element OK, WARNING or
ERROR (with its ValidationErrors), so valid elements are never hidden behind one bad
neighbour. Elements are read back by position; an answer with a different number of
elements is matched by id or number instead, and a sent element nothing matches has an
unknown outcome (the caller looks it up before writing it again). The Idempotency-Key is a hash of tenant, method, path, query and body: a
retry of the same write carries the same key (Xero answers it once), a changed write
gets a new one. Xero forgets keys after a few minutes, so callers still look a record
up before creating it again.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Iterator
from urllib.parse import urlencode

from connectors.errors import BadRequest
from connectors.jsontext import encode_json

MAX_ELEMENTS = 50
MAX_BYTES = 3_500_000


@dataclass
class ElementResult:
    """What became of one element of a batch write."""

    index: int                          # its position in the list that was written
    status: str                         # OK | WARNING | ERROR
    id: str | None = None               # the Xero id it was created or updated under
    number: str | None = None           # InvoiceNumber, ContactNumber… as Xero holds it
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    element: dict | None = None         # Xero's copy of it
    unknown: bool = False               # Xero's answer left it out: it may exist there

    @property
    def ok(self) -> bool:
        return self.status != "ERROR"


def idempotency_key(tenant_id: str, method: str, path: str, params: dict | None,
                    body: bytes) -> str:
    """`ferry-` + SHA-256 of what is written, where and to whom (70 characters)."""
    digest = hashlib.sha256()
    for part in (tenant_id.lower(), method.upper(), path,
                 urlencode(sorted((params or {}).items()))):
        digest.update(part.encode("utf-8") + b"\n")
    digest.update(body)
    return "ferry-" + digest.hexdigest()


def chunks(items: list[dict], plural: str, *, max_elements: int = MAX_ELEMENTS,
           max_bytes: int = MAX_BYTES) -> Iterator[tuple[int, list[dict]]]:
    """(offset, elements) slices whose `{plural: [...]}` body fits both limits. An element
    too large on its own comes alone (and is refused before sending)."""
    for offset, part, _body in _encoded_chunks(items, plural, max_elements, max_bytes):
        yield offset, part


def _encoded_chunks(items: list[dict], plural: str, max_elements: int = MAX_ELEMENTS,
                    max_bytes: int = MAX_BYTES) -> Iterator[tuple[int, list[dict], bytes]]:
    """As chunks(), with each slice's body as sent: encode_json({plural: slice}) in
    UTF-8, put together from the elements' own encodings (each element is encoded
    once, not again for the key and again by the transport)."""
    head = encode_json({plural: []})[:-2].encode("utf-8")        # '{"Plural": ['
    tail, between = b"]}", b", "
    overhead = len(head) + len(tail)
    start, size, current, texts = 0, overhead, [], []
    for index, item in enumerate(items):
        text = encode_json(item).encode("utf-8")
        item_size = len(text) + 2                                 # ", " between elements
        if current and (len(current) >= max_elements or size + item_size > max_bytes):
            yield start, current, head + between.join(texts) + tail
            start, size, current, texts = index, overhead, [], []
        current.append(item)
        texts.append(text)
        size += item_size
    if current:
        yield start, current, head + between.join(texts) + tail


def write_in_batches(client, method: str, path: str, plural: str, items: list[dict], *,
                     id_key: str, number_key: str | None = None,
                     params: dict | None = None) -> list[ElementResult]:
    """Write `items` through `client.call` in batches; one result per item, in order.

    A batch Xero refuses as a whole (HTTP 400) marks each of its elements with the
    reason and the next batch still goes; limits, lost access and network trouble raise.
    """
    results: list[ElementResult] = []
    query = {**(params or {}), "summarizeErrors": "false"}
    for offset, chunk, encoded in _encoded_chunks(items, plural):
        if len(encoded) > MAX_BYTES:
            results.append(ElementResult(offset, "ERROR", errors=[
                f"This record is too large for Xero ({len(encoded):,} bytes; Xero accepts "
                "3.5 MB a request). Shorten its descriptions or split it."]))
            continue
        key = idempotency_key(client.tenant_id, method, path, query, encoded)
        try:
            answer = client.call(method, path, params=query, encoded=encoded,
                                 headers={"Idempotency-Key": key}, idempotent=True)
        except BadRequest as exc:
            results += [ElementResult(offset + i, "ERROR", errors=[exc.sentence])
                        for i in range(len(chunk))]
            continue
        returned = (answer or {}).get(plural) or []
        matched = (returned if len(returned) == len(chunk)
                   else _match(chunk, returned, id_key, number_key))
        for i, sent in enumerate(chunk):
            element = matched[i] if i < len(matched) else None
            results.append(_result(offset + i, sent, element, id_key, number_key))
    return results


def _match(sent: list[dict], returned: list[dict], id_key: str,
           number_key: str | None) -> list[dict | None]:
    """An answer with fewer (or more) elements than were sent cannot be read by
    position: each sent element gets the returned one with its id (an update) or its
    number (a create), and None when none matches: its outcome is unknown."""
    by_id = {str(e.get(id_key)).lower(): e for e in returned if e.get(id_key)}
    by_number = {}
    if number_key:
        for element in returned:
            number = element.get(number_key)
            if number:
                by_number.setdefault(str(number), []).append(element)
    out = []
    for element in sent:
        if element.get(id_key):
            out.append(by_id.get(str(element[id_key]).lower()))
            continue
        number = str(element.get(number_key) or "") if number_key else ""
        candidates = by_number.get(number) if number else None
        out.append(candidates.pop(0) if candidates else None)
    return out


def _result(index: int, sent: dict, element: dict | None, id_key: str,
            number_key: str | None) -> ElementResult:
    if element is None:
        return ElementResult(index, "ERROR", unknown=True, errors=[
            "Xero's answer did not include this record; Ferry will look it up before "
            "writing it again."])
    errors = _messages(element.get("ValidationErrors"))
    status = (element.get("StatusAttributeString") or ("ERROR" if errors else "OK")).upper()
    if status == "ERROR" and not errors:
        errors = ["Xero refused this record without saying why."]
    return ElementResult(
        index=index, status=status,
        id=None if status == "ERROR" else element.get(id_key) or sent.get(id_key),
        number=element.get(number_key) if number_key else None,
        warnings=_messages(element.get("Warnings")), errors=errors, element=element)


def _messages(items) -> list[str]:
    sentences = []
    for item in items or []:
        text = (item.get("Message") if isinstance(item, dict) else str(item)) or ""
        text = text.strip()
        if text:
            sentences.append(text if text.endswith((".", "!", "?")) else text + ".")
    return sentences
