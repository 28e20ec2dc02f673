"""How much CPU and memory mapping costs: CW GL export transactions -> Xero invoice
payloads, with the tax check, the rounding line and the version hash.

Prints CPU seconds per 1,000 invoices and the peak memory (tracemalloc) of mapping
10,000 held in memory at once, as a cycle's batch would be. Run:
    .venv/bin/python bench/sync_mapping.py [count]
"""
import random
import sys
import time
import tracemalloc
from decimal import Decimal

from sync.documents import Mapped
from sync.invoices import map_sales_transaction
from sync.routing import CwRef, RoutingFacts
from sync.sales import SalesSource
from sync.tables import OrgMappings, RecordSettings, TaxTypes, TrackingMap
from sync.versions import version_hash

CENT = Decimal("0.01")
MAPPINGS = OrgMappings(
    org_name="Sydney IT Services Pty Ltd",
    accounts={"4000": "200", "4100": "210", "4200": "220", "4300": "230"},
    sales_tax=TaxTypes({"GST": "OUTPUT", "GST-FREE": "EXEMPTOUTPUT"}, "EXEMPTOUTPUT"),
    tax_rates={"OUTPUT": Decimal(10), "EXEMPTOUTPUT": Decimal(0), "BASEXCLUDED": Decimal(0)},
    tracking=(TrackingMap("Office", "location", {2: "Sydney"}),
              TrackingMap("Department", "department", {10: "Managed Services"})),
    settings={"invoice": RecordSettings("AUTHORISED")}, rounding_account="860",
    base_currency="AUD")
FACTS = RoutingFacts("invoices", CwRef(2, "Sydney"), CwRef(10, "Managed Services"))


def transaction(rng: random.Random, n: int) -> dict:
    detail = []
    for i in range(rng.randint(1, 12)):
        quantity = Decimal(rng.randint(1, 40)) / (4 if rng.random() < 0.3 else 1)
        price = Decimal(rng.randint(100, 500000)) / (10000 if rng.random() < 0.2 else 100)
        detail.append({"accountNumber": rng.choice(["4000", "4100", "4200", "4300"]),
                       "glTypeId": "R", "description": f"Line {i} of invoice {n}",
                       "quantity": quantity, "itemPrice": price,
                       "total": (quantity * price).quantize(CENT),
                       "taxCode": {"id": 1, "name": "GST"}, "taxableFlag": True})
    subtotal = sum(d["total"] for d in detail)
    tax = (subtotal / 10).quantize(CENT)
    detail.append({"accountNumber": "2200", "glTypeId": "ST", "total": tax,
                   "quantity": Decimal(1), "itemPrice": tax})
    return {"documentNumber": str(10000 + n), "documentType": "INVOICE",
            "documentDate": "2026-03-04T00:00:00Z", "dueDate": "2026-04-03T00:00:00Z",
            "currency": {"currencyCode": "AUD"}, "taxCode": {"id": 1, "name": "GST"},
            "total": subtotal + tax, "detail": detail}


def sources(count: int) -> list[SalesSource]:
    rng = random.Random(5)
    return [SalesSource(transaction(rng, n), {"customerPO": f"PO{n}"}, FACTS,
                        {"ContactID": "7b0c1a2e-0000-4000-8000-000000000001"})
            for n in range(count)]


def map_all(batch: list[SalesSource]) -> list[tuple[Mapped, str]]:
    out = []
    for source in batch:
        result = map_sales_transaction(source, MAPPINGS)
        out.append((result, version_hash(result.payload)))
    return out


def main(count: int = 10_000) -> None:
    batch = sources(count)
    started = time.process_time()
    results = map_all(batch)
    cpu = time.process_time() - started
    rounded = sum(1 for result, _ in results if result.rounding != 0)
    lines = sum(len(s.transaction["detail"]) - 1 for s in batch)
    print(f"mapped {count} invoices ({lines} lines, {rounded} needed a rounding line)")
    print(f"CPU: {cpu / count * 1000:.3f} s per 1,000 invoices mapped, rounded and hashed")
    del results
    tracemalloc.start()
    kept = map_all(batch)        # held, so the peak counts every payload and hash
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"peak memory mapping {len(kept)} (payloads and hashes kept): "
          f"{peak / 2**20:.1f} MiB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
