"""The synthetic MSP as ConnectWise Manage holds it, generated from a seed.

Records are dicts in CW's JSON shape (Decimal amounts, `YYYY-MM-DDTHH:MM:SSZ` datetimes)
so that listing, filtering and serializing need no translation. What CW keeps but does not
show on the record (invoice lines, GL entries, what is posted) lives beside them in `Store`.

Dates hang off `catalog.ANCHOR_DATE`, never today, so the same seed gives the same data on
any day. Scale 1 is about 500 invoices over 12 months; scale N multiplies customers,
invoices, purchase orders and expenses by N.
"""
from __future__ import annotations

import random
import threading
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

from sandbox import catalog

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def money(value) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def stamp(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def day_stamp(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def ref(record: dict, *keys: str) -> dict:
    """A CW reference ({id, name...}) to `record`."""
    return {k: record[k] for k in ("id", *keys)}


# The sandbox's GL type for each catalogue account (values from CW's glType enum).
GL_TYPE = {"4000": "R", "4100": "RP", "4200": "R", "4300": "RA", "4900": "FT",
           "5000": "P", "6100": "EE", "6200": "EE", "6300": "EE", "6400": "EE",
           "1200": "AR", "2100": "AP", "2200": "ST", "9999": "EO"}
AR_ACCOUNT, AP_ACCOUNT, TAX_ACCOUNT = "1200", "2100", "2200"
INVOICE_TYPES = ["Agreement", "Standard", "Miscellaneous", "Progress", "DownPayment",
                 "CreditMemo"]
STATUS = {"New": 1, "Sent": 2, "Closed": 3}
BILLING_TERMS = {"id": 1, "name": "Net 30 days"}
DUE_DAYS = 30                        # what BILLING_TERMS gives
_PRODUCT_IDS = uuid.UUID("6f1d3c2a-0b7e-4c55-9a1e-5d8f2b7c4e90")   # unpostedProductId space

_FIRST = ["Olivia", "Jack", "Charlotte", "William", "Amelia", "Noah", "Isla", "Thomas",
          "Mia", "James", "Grace", "Lucas", "Chloe", "Henry", "Ruby", "Oscar", "Zoe",
          "Leo", "Ava", "Ethan", "Sophie", "Liam", "Harper", "Mason", "Ella"]
_LAST = ["Smith", "Nguyen", "Williams", "Brown", "Wilson", "Taylor", "Jones", "Martin",
         "Anderson", "Walker", "Harris", "Lee", "Ryan", "Kelly", "Chen", "Singh", "Murphy",
         "White", "Thompson", "Clarke", "Patel", "Young", "King", "Wright", "Scott"]
_ADJ = ["Coastal", "Southern", "Eastside", "Harbour", "Summit", "Riverbend", "Golden",
        "Redgum", "Bluestone", "Pioneer", "Seaview", "Hillcrest", "Wattle", "Ironbark",
        "Northgate", "Parkside", "Silver", "Granite", "Lakeside", "Meridian", "Banksia",
        "Kestrel", "Orchard", "Highland", "Sandstone", "Cedar", "Beacon", "Willow"]
_NOUN = ["Legal", "Dental", "Accounting", "Logistics", "Engineering", "Architects",
         "Medical", "Freight", "Vineyards", "Realty", "Physio", "Pharmacy", "Builders",
         "Veterinary", "Consulting", "Motors", "Foods", "Printing", "Plumbing", "Clinic",
         "Insurance", "Education", "Surveyors", "Electrical"]
_SUFFIX = ["Pty Ltd", "Group", "Partners", "& Co", "Pty Ltd", "Services"]
_VENDORS = ["Ingram Micro", "Dicker Data", "Synnex Australia", "Leader Computers",
            "Microsoft", "Telstra", "Optus Business", "Amazon Web Services", "Datto",
            "Sophos", "Veeam", "Cisco Meraki", "Ubiquiti", "Fortinet", "Dell Technologies",
            "HP Australia", "Lenovo", "Officeworks", "StarTrack", "Australia Post"]
_STREETS = ["King William St", "Rundle Mall", "Grenfell St", "George St", "Pitt St",
            "Kent St", "Greenhill Rd", "Unley Rd", "Parramatta Rd", "Military Rd"]
_PRODUCTS = [("LAPTOP-14", "Business laptop 14\"", "1650.00"),
             ("MON-27", "27\" monitor", "389.00"), ("DOCK-USBC", "USB-C dock", "279.00"),
             ("FW-60F", "Firewall appliance", "1120.00"), ("SW-24P", "24-port PoE switch",
                                                            "845.00"),
             ("UPS-1500", "UPS 1500VA", "699.00"), ("M365-BP", "Microsoft 365 Business "
                                                            "Premium (annual)", "396.00"),
             ("SSD-1TB", "1TB NVMe SSD", "159.00")]
_SERVICES = [("Onsite support", "165.00"), ("Remote support", "145.00"),
             ("Project engineering", "195.00"), ("Network design", "210.00")]
_EXPENSE_TYPES = [(1, "Travel", "6100"), (2, "Mileage", "6200"), (3, "Meals", "6300"),
                  (4, "Supplies", "6400")]
_PAYMENT_METHODS = [(1, "Credit Card"), (2, "Cash"), (3, "Company Card")]


@dataclass
class Line:
    """One invoice line as CW's GL export shows it."""
    description: str
    quantity: Decimal
    item_price: Decimal
    account: str
    item: str | None = None
    kind: str = "service"           # service, product, agreement, freight

    @property
    def total(self) -> Decimal:
        return money(self.quantity * self.item_price)


@dataclass
class Store:
    """All records of one sandbox; every read and write holds `lock`."""
    seed: int
    scale: int
    lock: threading.RLock = field(default_factory=threading.RLock)
    tables: dict[str, dict[int, dict]] = field(default_factory=dict)
    lines: dict[int, list[Line]] = field(default_factory=dict)          # invoice id
    payments: dict[int, list[dict]] = field(default_factory=dict)       # invoice id
    po_lines: dict[int, list[dict]] = field(default_factory=dict)       # PO id
    # GL entry id -> (kind, record id); kind: invoice, procurement, expense
    gl_entries: dict[int, tuple[str, int]] = field(default_factory=dict)
    entry_ids: dict[tuple[str, int], list[int]] = field(default_factory=dict)
    posted: set[int] = field(default_factory=set)
    unposted: dict[str, dict[int, dict]] = field(default_factory=dict)
    next_id: dict[str, int] = field(default_factory=dict)
    last_stamp: str = ""

    def table(self, name: str) -> dict[int, dict]:
        return self.tables.setdefault(name, {})

    def new_id(self, name: str, start: int = 1) -> int:
        value = self.next_id.get(name, start)
        self.next_id[name] = value + 1
        return value

    def add(self, name: str, record: dict, start: int = 1) -> dict:
        if "id" not in record:
            record = {"id": self.new_id(name, start), **record}
        self.table(name)[record["id"]] = record
        info = record.get("_info") or {}
        if info.get("lastUpdated", "") > self.last_stamp:
            self.last_stamp = info["lastUpdated"]
        return record

    def touch(self, now: datetime) -> str:
        """A lastUpdated for a change made now. Never earlier than any record's, so a
        client polling `lastUpdated > watermark` sees every change even when the sandbox
        runs on a day before the synthetic year's end."""
        text = stamp(now)
        if text <= self.last_stamp:
            last = datetime.strptime(self.last_stamp, "%Y-%m-%dT%H:%M:%SZ")
            text = stamp(last.replace(tzinfo=timezone.utc) + timedelta(seconds=1))
        self.last_stamp = text
        return text

    def add_gl_entries(self, kind: str, record_id: int, count: int) -> list[int]:
        ids = [self.new_id("glentry", 500001) for _ in range(count)]
        for entry in ids:
            self.gl_entries[entry] = (kind, record_id)
        self.entry_ids[(kind, record_id)] = ids
        return ids


class Generator:
    """Fills a Store from the seed. One pass, in date order, so ids grow with dates."""

    def __init__(self, store: Store):
        self.s = store
        self.rng = random.Random(store.seed)
        self.anchor = catalog.ANCHOR_DATE
        self.start = self.anchor - timedelta(days=30 * catalog.MONTHS_OF_HISTORY)
        self.tax = {}
        self.currency = {}
        self.gl_by_number = {}

    def at(self, day: date, hour: int = 9) -> str:
        return stamp(datetime.combine(day, time(hour, self.rng.randrange(60)),
                                      tzinfo=timezone.utc))

    def run(self) -> Store:
        self.reference_data()
        self.members()
        self.companies()
        self.invoices()
        self.purchase_orders()
        self.expenses()
        return self.s

    # -- reference data ----------------------------------------------------------------
    def reference_data(self) -> None:
        s, entered = self.s, self.at(self.start - timedelta(days=400))
        info = {"lastUpdated": entered, "updatedBy": "admin1"}
        for office in catalog.OFFICES:
            city = office["location"]
            state, zip_ = ("SA", "5000") if city == "Adelaide" else ("NSW", "2000")
            s.add("system/locations", {
                "id": office["location_id"], "name": city, "ownerLevelId": 1,
                "clientFlag": False, "locationFlag": True,
                "departmentIds": [d["id"] for d in catalog.DEPARTMENTS],
                "overrideAddressLine1": f"{10 + office['location_id']} {_STREETS[0]}",
                "overrideCity": city, "overrideState": state, "overrideZip": zip_,
                "overridePhoneNumber": "08 8100 0000" if city == "Adelaide"
                else "02 9100 0000",
                "_info": dict(info)})
        for dept in catalog.DEPARTMENTS:
            s.add("system/departments", {**dept, "_info": dict(info)})
        for i, (ident, rate, _sale, _buy) in enumerate(catalog.TAX_CODES, start=1):
            record = s.add("finance/taxCodes", {
                "id": i, "identifier": ident, "description": f"{ident} {rate}%",
                "invoiceCaption": "GST" if ident.startswith("GST") else ident,
                "effectiveDate": "2000-07-01T00:00:00Z", "defaultFlag": ident == "GST",
                "displayOnInvoiceFlag": True, "levelOneRate": Decimal(rate),
                "levelOneRateType": "Percent", "levelOneCaption": ident,
                "levelOneServicesFlag": True, "levelOneProductsFlag": True,
                "levelOneExpensesFlag": True, "levelOneTaxCodeXref": ident,
                "country": {"id": 14, "identifier": "AU", "name": "Australia"},
                "_info": dict(info)})
            self.tax[ident] = (record, Decimal(rate) / 100)
        for i, (code, name, _rate) in enumerate(catalog.CURRENCIES, start=1):
            symbol = {"AUD": "$", "NZD": "NZ$", "USD": "US$"}[code]
            record = s.add("finance/currencies", {
                "id": i, "currencyIdentifier": code, "name": name, "symbol": symbol,
                "currencyCode": {"id": i, "name": code}, "decimalSeparator": ".",
                "thousandsSeparator": ",", "numberOfDecimals": 2,
                "negativeParenthesesFlag": False, "displaySymbolFlag": True,
                "displayIdFlag": code != "AUD", "rightAlign": False,
                "_info": dict(info)})
            self.currency[code] = {
                "id": i, "symbol": symbol, "currencyCode": code, "decimalSeparator": ".",
                "numberOfDecimals": 2, "thousandsSeparator": ",",
                "negativeParenthesesFlag": False, "displaySymbolFlag": True,
                "currencyIdentifier": code, "displayIdFlag": code != "AUD",
                "rightAlign": False, "name": name}
        for i, (number, desc, gl_type, *_xero) in enumerate(catalog.GL_ACCOUNTS, start=1):
            record = s.add("finance/glAccounts", {
                "id": i, "glType": GL_TYPE[number], "segment1": number,
                "mappedType": {"id": i, "name": gl_type},
                "mappedRecord": {"id": i, "name": desc}, "_info": dict(info)})
            self.gl_by_number[number] = record

    def members(self) -> None:
        count = 20
        for i in range(1, count + 1):
            first, last = _FIRST[i % len(_FIRST)], _LAST[(i * 7) % len(_LAST)]
            office = catalog.OFFICES[i % 2]
            dept = catalog.DEPARTMENTS[i % len(catalog.DEPARTMENTS)]
            ident = f"{first[0]}{last}".lower() + (str(i) if i > 12 else "")
            self.s.add("system/members", {
                "id": 100 + i, "identifier": ident, "firstName": first, "lastName": last,
                "title": ["Service Engineer", "Account Manager", "Project Engineer",
                          "Finance Officer"][i % 4],
                "licenseClass": "F", "defaultEmail": "Office", "defaultPhone": "Office",
                "officeEmail": f"{ident}@ferrydemo.example", "primaryEmail":
                    f"{ident}@ferrydemo.example",
                "agreementInvoicingDisplayOptions": "RemainOnInvoicingScreen",
                "invoiceScreenDefaultTabFormat": "ShowInvoicingTab",
                "invoicingDisplayOptions": "RemainOnInvoicingScreen",
                "inactiveFlag": False, "adminFlag": i == 1,
                "defaultLocation": {"id": office["location_id"], "name": office["location"]},
                "defaultDepartment": {"id": dept["id"], "identifier": dept["identifier"],
                                      "name": dept["name"]},
                "hireDate": day_stamp(self.start - timedelta(days=200 + 37 * i)),
                "_info": {"lastUpdated": self.at(self.start - timedelta(days=30 + i))}})

    # -- companies and contacts --------------------------------------------------------
    def _company(self, name: str, ident: str, *, vendor: bool, office: dict,
                 currency: str, tax: str, entered: date) -> dict:
        rng, s = self.rng, self.s
        city = office["location"]
        state, zip_, area = (("SA", "50%02d" % rng.randrange(100), "08") if city == "Adelaide"
                             else ("NSW", "20%02d" % rng.randrange(100), "02"))
        country = {"id": 14, "identifier": "AU", "name": "Australia"}
        if currency == "NZD":
            city, state, zip_, area = "Auckland", "AUK", "1010", "+64 9"
            country = {"id": 153, "identifier": "NZ", "name": "New Zealand"}
        elif currency == "USD":
            city, state, zip_, area = "Seattle", "WA", "98101", "+1 206"
            country = {"id": 233, "identifier": "US", "name": "United States"}
        company_id = s.new_id("company/companies", 250)
        contact_id = s.new_id("company/contacts", 1000)
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        domain = ident.lower() + ".example"
        email = f"accounts@{domain}"
        stamp_ = self.at(entered)
        company = s.add("company/companies", {
            "id": company_id, "identifier": ident, "name": name,
            "status": {"id": 1, "name": "Active"},
            "addressLine1": f"{rng.randrange(1, 400)} {rng.choice(_STREETS)}",
            "city": city, "state": state, "zip": zip_, "country": country,
            "phoneNumber": f"{area} {rng.randrange(7000, 9999)} {rng.randrange(1000, 9999)}",
            "website": f"www.{domain}",
            "territory": {"id": office["location_id"], "name": office["location"]},
            "accountNumber": f"{'V' if vendor else 'C'}{company_id:05d}",
            "defaultContact": {"id": contact_id, "name": f"{first} {last}"},
            "billingContact": {"id": contact_id, "name": f"{first} {last}"},
            "types": [{"id": 2, "name": "Vendor"}] if vendor else [{"id": 1, "name": "Client"}],
            "integratorTags": [] if vendor else ["ferry"],
            "currency": {"id": self.currency[currency]["id"],
                         "currencyCode": currency, "name": self.currency[currency]["name"],
                         "symbol": self.currency[currency]["symbol"]},
            "taxCode": {"id": self.tax[tax][0]["id"], "name": tax},
            "billingTerms": dict(BILLING_TERMS), "invoiceToEmailAddress": email,
            "isVendorFlag": vendor, "deletedFlag": False, "leadFlag": False,
            "_info": {"lastUpdated": stamp_, "dateEntered": stamp_, "enteredBy": "admin1"}})
        s.add("company/contacts", {
            "id": contact_id, "firstName": first, "lastName": last,
            "company": ref(company, "identifier", "name"),
            "title": "Accounts Payable" if not vendor else "Accounts Receivable",
            "defaultFlag": True, "defaultBillingFlag": True, "inactiveFlag": False,
            "communicationItems": [
                {"id": contact_id * 10 + 1, "type": {"id": 1, "name": "Email"},
                 "value": email, "domain": "@" + domain, "defaultFlag": True,
                 "communicationType": "Email"},
                {"id": contact_id * 10 + 2, "type": {"id": 2, "name": "Direct"},
                 "value": company["phoneNumber"], "defaultFlag": True,
                 "communicationType": "Phone"}],
            "_info": {"lastUpdated": stamp_}})
        return company

    def companies(self) -> None:
        rng, used = self.rng, set()
        self.customers, self.vendors = [], []
        entered = self.start - timedelta(days=90)
        clash = catalog.CLASH_COMPANY
        sydney = next(o for o in catalog.OFFICES if o["location"] == "Sydney")
        self.customers.append(self._company(clash["name"], clash["identifier"], vendor=False,
                                            office=sydney, currency="AUD", tax="GST",
                                            entered=entered))
        used.add(clash["name"])
        idents = {clash["identifier"].lower()}      # CW keeps company identifiers unique
        total = 150 * self.s.scale
        pool = len({f"{a} {n} {x}" for a in _ADJ for n in _NOUN for x in _SUFFIX})
        while len(self.customers) < total:
            if len(used) < pool:
                name = f"{rng.choice(_ADJ)} {rng.choice(_NOUN)} {rng.choice(_SUFFIX)}"
            else:
                name = self._second_name()
            if name in used:
                continue
            used.add(name)
            ident = "".join(w for w in name.replace("&", "And").split()
                            if w not in ("Pty", "Ltd"))[:25]
            if ident.lower() in idents:
                continue
            idents.add(ident.lower())
            n = len(self.customers)
            currency = "NZD" if n % 19 == 5 else "USD" if n % 29 == 7 else "AUD"
            tax = "EXPORT" if currency != "AUD" else ("GST-FREE" if n % 37 == 3 else "GST")
            self.customers.append(self._company(
                name, ident, vendor=False, office=catalog.OFFICES[n % 2], currency=currency,
                tax=tax, entered=entered + timedelta(days=n % 60)))
        for i, name in enumerate(_VENDORS):
            ident = name.replace(" ", "").replace("&", "And")[:25]
            self.vendors.append(self._company(name, ident, vendor=True,
                                              office=catalog.OFFICES[i % 2], currency="AUD",
                                              tax="GST", entered=entered - timedelta(days=30)))

    def _second_name(self) -> str:
        """A customer name once every "<adj> <noun> <suffix>" is taken (3,360 of them:
        past scale 22). Drawn only then, so smaller scales keep the data they always had;
        before this, scale 40 looped forever looking for a name that was left."""
        rng = self.rng
        first, second = rng.sample(_ADJ, 2)
        return f"{first} {second} {rng.choice(_NOUN)} {rng.choice(_SUFFIX)}"

    # -- invoices ----------------------------------------------------------------------
    def _lines(self, kind: str, month: str) -> list[Line]:
        rng = self.rng
        if kind == "Agreement":
            out = [Line(f"Managed services agreement - {month}", Decimal(1),
                        money(rng.choice([950, 1450, 2200, 3100, 4800])), "4300",
                        "MSA-MONTHLY", "agreement")]
            if rng.random() < 0.3:
                out.append(Line("Additional seats", Decimal(rng.randrange(1, 6)),
                                Decimal("45.00"), "4000", "SEAT-ADD", "service"))
            return out
        if kind == "Miscellaneous":
            return [Line(rng.choice(["Domain renewal", "Licence true-up", "Consulting"]),
                         Decimal(1), money(rng.randrange(80, 900)), "4000", None, "service")]
        if kind in ("Progress", "DownPayment"):
            return [Line(f"{kind} - network refresh project", Decimal(1),
                         money(rng.randrange(2000, 12000)), "4200", "PROJECT", "service")]
        out = []
        for _ in range(rng.randrange(1, 4)):
            if rng.random() < 0.5:
                sku, desc, price = rng.choice(_PRODUCTS)
                out.append(Line(desc, Decimal(rng.randrange(1, 6)), Decimal(price), "4100",
                                sku, "product"))
            else:
                desc, rate = rng.choice(_SERVICES)
                hours = Decimal(rng.randrange(2, 17)) / 2
                out.append(Line(desc, hours, Decimal(rate), "4200", "LABOUR", "service"))
        return out

    def invoices(self) -> None:
        rng, s = self.rng, self.s
        count = 500 * s.scale
        weights = [52, 30, 7, 3, 3, 5]
        days = sorted(self.start + timedelta(days=rng.randrange(360)) for _ in range(count))
        vat_left, freight_left = 3 * s.scale, 4 * s.scale
        recent: list[dict] = []      # credit memos credit one of the latest invoices
        made: dict[str, int] = {}
        customers = {c["id"]: c for c in self.customers}    # a credit memo's company
        for day in days:
            kind = rng.choices(INVOICE_TYPES, weights)[0]
            original = None
            if kind == "CreditMemo":
                candidates = [inv for inv in recent if inv["total"] > 0]
                if not candidates:
                    kind = "Standard"
                else:
                    original = rng.choice(candidates)
            company = (customers[original["company"]["id"]] if original
                       else rng.choice(self.customers))
            lines = self._lines(kind if original is None else "Standard",
                                day.strftime("%B %Y"))
            if original is not None:
                first = s.lines[original["id"]][0]
                lines = [Line(f"Credit: {first.description}", first.quantity,
                              -money(first.item_price * Decimal(rng.choice(["1", "0.5"]))),
                              first.account, first.item, first.kind)]
            tax = company["taxCode"]["name"]
            # The troublemakers at a steady rate, so every seed has a few of each.
            made[kind] = made.get(kind, 0) + 1
            if kind == "Agreement" and tax == "GST" and vat_left and made[kind] % 80 == 40:
                tax, vat_left = "VAT20", vat_left - 1
            if kind == "Standard" and freight_left and made[kind] % 30 == 15:
                lines.append(Line("Freight", Decimal(1), Decimal("35.00"), "4900", "FREIGHT",
                                  "freight"))
                freight_left -= 1
            invoice = self.add_invoice(company, kind, day, lines, tax, original)
            if kind != "CreditMemo":
                recent = (recent + [invoice])[-60:]

    def add_invoice(self, company: dict, kind: str, day: date, lines: list[Line],
                    tax_ident: str, original: dict | None = None,
                    closed: bool | None = None, now: str | None = None) -> dict:
        rng, s = self.rng, self.s
        age = (self.anchor - day).days
        if closed is None:
            closed = age > 45 or rng.random() < 0.6
        office = next(o for o in catalog.OFFICES
                      if o["location_id"] == company["territory"]["id"])
        dept = 10 if kind == "Agreement" else (
            12 if any(line.kind == "product" for line in lines) else 11)
        tax_record, rate = self.tax[tax_ident]
        invoice_id = s.new_id("finance/invoices", 1001)
        entered = now or self.at(day, 8)
        customer = ref(company, "identifier", "name")
        record = {
            "id": invoice_id, "invoiceNumber": f"{10000 + invoice_id}", "type": kind,
            "status": {"id": STATUS["Closed"], "name": "Closed"} if closed
            else {"id": STATUS["Sent"], "name": "Sent"},
            "company": customer, "billToCompany": dict(customer),
            "shipToCompany": dict(customer), "applyToType": "All",
            "attention": company["billingContact"]["name"],
            "billingSite": {"id": company["id"] * 10, "name": "Main"},
            "billingSiteAddressLine1": company["addressLine1"],
            "billingSiteCity": company["city"], "billingSiteState": company["state"],
            "billingSiteZip": company["zip"], "billingSiteCountry": company["country"]["name"],
            "billingTerms": dict(BILLING_TERMS), "reference": "",
            "customerPO": f"PO{rng.randrange(1000, 9999)}" if rng.random() < 0.3 else "",
            "templateSetupId": 1, "emailTemplateId": 1, "addToBatchEmailList": True,
            "date": day_stamp(day), "dueDate": day_stamp(day + timedelta(days=30)),
            "restrictDownpaymentFlag": False, "locationId": office["location_id"],
            "departmentId": dept, "territoryId": office["location_id"],
            "topComment": "", "bottomComment": "Thank you for your business.",
            "taxableFlag": rate > 0, "taxCode": {"id": tax_record["id"], "name": tax_ident},
            "internalNotes": "", "downpaymentPreviouslyTaxedFlag": False,
            "overrideDownPaymentAmountFlag": False,
            "currency": dict(self.currency[company["currency"]["currencyCode"]]),
            "specialInvoiceFlag": False, "adjustmentReason": "", "adjustedBy": "",
            "serviceAdjustmentAmount": ZERO, "previousProgressApplied": ZERO,
            "downpaymentApplied": ZERO, "remainingDownpayment": ZERO, "expenseTotal": ZERO,
            "payments": ZERO, "credits": ZERO,
            "_info": {"lastUpdated": entered, "updatedBy": "admin1", "enteredBy": "admin1",
                      "dateEntered": entered},
        }
        if original is not None:
            record["applyToId"] = original["id"]
        if kind == "Agreement":
            record["agreement"] = {"id": 5000 + company["id"], "name": "Managed Services",
                                   "type": "Managed Services"}
        s.lines[invoice_id] = lines
        s.payments[invoice_id] = []
        recalc(record, lines, rate)
        s.add("finance/invoices", record)
        if original is not None:
            apply_credit(s, original, record)
        if closed:
            close_invoice(s, record, record["_info"]["lastUpdated"])
            if age > 180:
                s.posted.update(s.entry_ids[("invoice", invoice_id)])
                s.unposted["invoices"].pop(invoice_id, None)
                # Only invoices already posted to the accounting package (by whatever
                # was used before Ferry) carry payments: a closed, unposted invoice is
                # open in CW (balance = total) until Ferry applies Xero's payments.
                if kind != "CreditMemo" and record["balance"] > 0 and rng.random() < 0.85:
                    when = day + timedelta(days=rng.randrange(10, 40))
                    add_payment(s, record, record["balance"], day_stamp(when),
                                record["_info"]["lastUpdated"], applied_by="admin1")
        return record

    # -- procurement -------------------------------------------------------------------
    def purchase_orders(self) -> None:
        rng, s = self.rng, self.s
        count = 60 * s.scale
        days = sorted(self.start + timedelta(days=rng.randrange(360)) for _ in range(count))
        for day in days:
            vendor, customer = rng.choice(self.vendors), rng.choice(self.customers)
            office = catalog.OFFICES[rng.randrange(2)]
            po_id = s.new_id("procurement/purchaseorders", 1)
            stamp_ = self.at(day, 10)
            lines = []
            for n in range(1, rng.randrange(2, 5)):
                sku, desc, price = rng.choice(_PRODUCTS)
                lines.append({
                    "id": s.new_id("lineitem", 1), "purchaseOrderId": po_id, "lineNumber": n,
                    "description": desc, "quantity": Decimal(rng.randrange(1, 8)),
                    "unitCost": money(Decimal(price) * Decimal("0.72")),
                    "product": {"id": 700 + _PRODUCTS.index((sku, desc, price)),
                                "identifier": sku},
                    "receivedQuantity": 0, "receivedStatus": "Waiting",
                    "backorderedFlag": False, "canceledFlag": False, "closedFlag": False,
                    "vendorSku": sku, "tax": ZERO,
                    "warehouse": {"id": office["location_id"],
                                  "name": f"{office['location']} warehouse"},
                    "_info": {"lastUpdated": stamp_}})
            po = {
                "id": po_id, "poNumber": f"PO-{po_id:05d}", "poDate": day_stamp(day),
                "vendorCompany": ref(vendor, "identifier", "name"),
                "vendorContact": dict(vendor["billingContact"]),
                "customerCompany": ref(customer, "identifier", "name"),
                "customerName": customer["name"], "locationId": office["location_id"],
                "businessUnitId": 12, "status": {"id": 1, "name": "Open"},
                "closedFlag": False, "currency": dict(self.currency["AUD"]),
                "taxCode": {"id": self.tax["GST"][0]["id"], "name": "GST"},
                "terms": dict(BILLING_TERMS), "freightCost": ZERO, "freightTaxTotal": ZERO,
                "taxPoFlag": True, "taxFreightFlag": False, "dropShipCustomerFlag": False,
                "enteredBy": "admin1", "vendorInvoiceNumber": "",
                "_info": {"lastUpdated": stamp_, "dateEntered": stamp_}}
            s.po_lines[po_id] = lines
            purchase_totals(po, lines)
            s.add("procurement/purchaseorders", po)
            age = (self.anchor - day).days
            if age > 20:
                partial = rng.random() < 0.25
                delivered = None
                for line in lines:
                    qty = int(line["quantity"])
                    if partial and qty > 1 and line is lines[0]:
                        qty = qty // 2
                    # One delivery, one packing slip: its receipts make one purchase
                    # transaction in the GL export (FIDELITY.md 1.3).
                    received = day + timedelta(days=rng.randrange(2, 15))
                    delivered = delivered or received
                    receipt = receive_line(s, po, line, qty, f"PS-{po_id:05d}-1",
                                           delivered, self.at(delivered, 14))
                    if age > 200:
                        s.posted.update(s.entry_ids[("procurement", receipt["id"])])
                        del s.unposted["procurement"][receipt["id"]]

    # -- expenses ----------------------------------------------------------------------
    def expenses(self) -> None:
        rng, s = self.rng, self.s
        members = list(s.table("system/members").values())
        count = 120 * s.scale
        days = sorted(self.start + timedelta(days=rng.randrange(360)) for _ in range(count))
        for day in days:
            member = rng.choice(members)
            type_id, type_name, _account = rng.choice(_EXPENSE_TYPES)
            method = rng.choice(_PAYMENT_METHODS)
            amount = money(Decimal(rng.randrange(1500, 40000)) / 100)
            approved = (self.anchor - day).days > 10
            add_expense(s, {
                "member": ref(member, "identifier") | {
                    "name": f"{member['firstName']} {member['lastName']}"},
                "type": {"id": type_id, "name": type_name},
                "company": ref(rng.choice(self.customers), "identifier", "name"),
                "classification": {"id": 1, "name": "Reimbursable"} if method[0] != 3
                else {"id": 2, "name": "NonReimbursable"},
                "paymentMethod": {"id": method[0], "name": method[1]},
                "billableOption": rng.choice(["Billable", "DoNotBill", "NoCharge"]),
                "amount": amount, "date": day_stamp(day),
                "notes": f"{type_name} - client visit",
                "locationId": member["defaultLocation"]["id"],
                "status": "ApprovedByTierTwo" if approved else "PendingApproval",
            }, self.at(day, 17), posted=(self.anchor - day).days > 200)


# -- shared rules, used by the generator and by the API's write paths -------------------
def recalc(record: dict, lines: list[Line], rate: Decimal) -> None:
    """Totals as CW keeps them: tax on the invoice subtotal, rounded once."""
    by_kind = {"product": ZERO, "service": ZERO, "agreement": ZERO, "freight": ZERO}
    for line in lines:
        by_kind[line.kind] += line.total
    subtotal = sum(by_kind.values(), ZERO)
    tax = money(subtotal * rate)
    record.update({
        "productTotal": by_kind["product"],
        "serviceTotal": by_kind["service"] + by_kind["freight"],
        "agreementAmount": by_kind["agreement"], "subtotal": subtotal, "salesTax": tax,
        "total": subtotal + tax})
    record["balance"] = record["total"] - record["payments"] - record["credits"]


def apply_credit(s: Store, original: dict, memo: dict) -> None:
    """A credit memo reduces what its invoice still owes."""
    credit = min(-memo["total"], max(original["balance"], ZERO))
    original["credits"] += credit
    original["balance"] -= credit
    memo["credits"] = -credit         # applied: the memo's balance = total - credits
    memo["balance"] = memo["total"] + credit


def close_invoice(s: Store, record: dict, when: str) -> None:
    """Closing puts the invoice in the unposted list. Its ids there are CW's own and
    opaque to a client (FIDELITY.md 1.1, 1.2): the unposted record's `id` and the export
    transaction's `id` come from number spaces of their own, never the invoice id. GL
    entries: the transaction's `glEntryIds` (the AR side) and one per detail line (each
    revenue line and the sales tax line), disjoint as in the REST sample."""
    record["status"] = {"id": STATUS["Closed"], "name": "Closed"}
    ar = [s.new_id("glentry", 500001)]
    detail = [s.new_id("glentry", 500001) for _ in range(len(s.lines[record["id"]]) + 1)]
    for entry in ar + detail:
        s.gl_entries[entry] = ("invoice", record["id"])
    s.entry_ids[("invoice", record["id"])] = ar + detail
    s.unposted.setdefault("invoices", {})[record["id"]] = {
        "closed": when, "id": s.new_id("unposted/invoices", 900001),
        "transaction": s.new_id("gltransaction", 700001), "ar": ar, "detail": detail}


def add_payment(s: Store, invoice: dict, amount: Decimal, day: str, when: str,
                applied_by: str = "ferryapi") -> dict:
    """The invoice's payment: the fields of CW's Payment model and no others (no
    external id). CW keeps one per invoice; the API refuses a second."""
    payment = {
        "id": s.new_id("payment", 3001), "type": "Payment", "amount": amount,
        "paymentDate": day, "invoice": {"id": invoice["id"],
                                        "identifier": invoice["invoiceNumber"],
                                        "billingType": invoice["type"],
                                        "applyToType": invoice["applyToType"]},
        "appliedBy": applied_by, "_info": {"lastUpdated": when}}
    s.payments[invoice["id"]].append(payment)
    invoice["payments"] += amount
    invoice["balance"] -= amount
    return payment


def set_payment_amount(invoice: dict, payment: dict, amount: Decimal, when: str | None
                       ) -> None:
    """Change (or, with zero, take back) a payment; the invoice's balance follows."""
    invoice["payments"] += amount - payment["amount"]
    invoice["balance"] -= amount - payment["amount"]
    payment["amount"] = amount
    if when:
        payment["_info"]["lastUpdated"] = when


def purchase_totals(po: dict, lines: list[dict]) -> None:
    subtotal = sum((money(line["quantity"] * line["unitCost"]) for line in lines), ZERO)
    tax = money(subtotal * Decimal("0.10"))
    po.update({"subTotal": subtotal, "salesTax": tax, "total": subtotal + tax})


def receive_line(s: Store, po: dict, line: dict, quantity: int, packing_slip: str,
                 day: date, when: str) -> dict:
    """Receive `quantity` more of a PO line: one unposted procurement record each time."""
    line["receivedQuantity"] += quantity
    line["packingSlip"] = packing_slip
    line["dateReceived"] = day_stamp(day)
    full = line["receivedQuantity"] >= line["quantity"]
    line["receivedStatus"] = "FullyReceived" if full else "PartiallyReceiveCloneRest"
    line["closedFlag"] = full
    line["_info"]["lastUpdated"] = when
    lines = s.po_lines[po["id"]]
    if all(item["closedFlag"] for item in lines):
        po["closedFlag"] = True
        po["status"] = {"id": 3, "name": "Closed"}
        po["dateClosed"] = day_stamp(day)
    po["vendorInvoiceNumber"] = po["vendorInvoiceNumber"] or f"VI-{po['id']:05d}"
    # Typed on the PO by a person in CW, not moved by each receipt: the first receipt
    # fills it here, so a later slip does not re-date the PO's earlier bills.
    po["vendorInvoiceDate"] = po.get("vendorInvoiceDate") or day_stamp(day)
    po["_info"]["lastUpdated"] = when
    total = money(quantity * line["unitCost"])
    tax = money(total * Decimal("0.10"))
    unposted_id = s.new_id("unposted/procurement", 20001)
    # The receipt's GL entries: its purchaseDetail line and its purchaseDetailTax line.
    entries = [s.new_id("glentry", 500001), s.new_id("glentry", 500001)]
    s.unposted.setdefault("procurement", {})[unposted_id] = {
        "id": unposted_id, "purchaseOrder": {"id": po["id"], "name": po["poNumber"]},
        "vendor": dict(po["vendorCompany"]), "customer": dict(po["customerCompany"]),
        "locationId": po["locationId"], "departmentId": 12, "procurementType": "Purchase",
        "purchaseDate": po["poDate"], "vendorInvoiceNumber": po["vendorInvoiceNumber"],
        "vendorInvoiceDate": po["vendorInvoiceDate"], "vendorAccountNumber":
            f"V{po['vendorCompany']['id']:05d}", "currency": dict(po["currency"]),
        "taxCode": dict(po["taxCode"]), "description": f"{line['description']} x{quantity}",
        # CW's value is unknown (FIDELITY.md 1.4): opaque, so no client can parse it.
        "unpostedProductId": uuid.uuid5(_PRODUCT_IDS, f"{s.seed}:{unposted_id}").hex,
        "total": total + tax, "taxTotal": tax, "freightCost": ZERO, "freightTaxTotal": ZERO,
        "itemTaxableFlag": True, "purchaseOrderTaxableFlag": True, "taxFreightFlag": False,
        "trackingNumber": "", "dateClosed": day_stamp(day),
        "billingTerms": dict(po["terms"]), "_info": {"lastUpdated": when},
        # not served: the line, quantity, net, packing slip and GL entries of the receipt
        "_receipt": {"line": line["id"], "quantity": quantity, "net": total,
                     "packingSlip": packing_slip, "detail": entries[0], "tax": entries[1]}}
    for entry in entries:
        s.gl_entries[entry] = ("procurement", unposted_id)
    s.entry_ids[("procurement", unposted_id)] = entries
    return s.unposted["procurement"][unposted_id]


def add_expense(s: Store, fields: dict, when: str, posted: bool = False) -> dict:
    entry = s.add("expense/entries", {
        "id": s.new_id("expense/entries", 40001), **fields,
        "currency": {"id": 1, "currencyCode": "AUD", "name": "Australian Dollar",
                     "symbol": "$"},
        "chargeToType": "ChargeCode", "chargeToId": 1,
        "billAmount": fields["amount"] if fields["billableOption"] == "Billable" else ZERO,
        "invoiceAmount": ZERO, "agreementAmount": ZERO,
        "taxes": [{"id": 1, "amount": money(fields["amount"] / 11),
                   "type": {"id": 1, "name": "GST"}}],
        "_info": {"lastUpdated": when, "dateEntered": when}})
    if entry["status"] == "ApprovedByTierTwo":
        approve_expense(s, entry, when, posted)
    return entry


def approve_expense(s: Store, entry: dict, when: str, posted: bool = False) -> None:
    account = next(a for (i, _n, a) in _EXPENSE_TYPES if i == entry["type"]["id"])
    s.gl_entries[entry["id"]] = ("expense", entry["id"])
    s.entry_ids[("expense", entry["id"])] = [entry["id"]]
    if posted:
        s.posted.update(s.entry_ids[("expense", entry["id"])])
        return
    tax = entry["taxes"][0]["amount"]
    billable = entry["amount"] if entry["billableOption"] == "Billable" else ZERO
    s.unposted.setdefault("expenses", {})[entry["id"]] = {
        "id": entry["id"], "expenseDetailId": entry["id"], "locationId": entry["locationId"],
        "departmentId": 11, "member": dict(entry["member"]),
        "company": dict(entry["company"]), "dateExpense": entry["date"],
        "classification": entry["classification"]["name"],
        "glType": "EE", "accountNumber": account, "creditAccount": AP_ACCOUNT,
        "total": entry["amount"], "salesTaxAmount": tax,
        "billableAmount": billable, "nonBillableAmount": entry["amount"] - billable,
        "agreementAmountCovered": ZERO, "inPolicy": True, "itemTaxableFlag": True,
        "expenseType": dict(entry["type"]), "paymentMethod": dict(entry["paymentMethod"]),
        "currency": dict(entry["currency"]), "taxCode": {"id": 1, "name": "GST"},
        "chargeCode": {"id": 1, "name": "Client visit"},
        "chargeDescription": entry["notes"], "dateClosed": entry["date"],
        "_info": {"lastUpdated": when}}


def generate(seed: int, scale: int) -> Store:
    store = Store(seed=seed, scale=scale)
    store.unposted.update({"invoices": {}, "procurement": {}, "expenses": {}})
    return Generator(store).run()
