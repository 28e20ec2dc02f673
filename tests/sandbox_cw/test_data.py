"""The synthetic MSP: the same seed gives the same data, scale multiplies it."""
from sandbox import catalog
from sandbox.connectwise import create_app
from sandbox.connectwise.jsonout import dumps


def snapshot(seed: int, scale: int = 1) -> str:
    store = create_app(seed=seed, scale=scale).sandbox.store
    return dumps({name: list(table.values()) for name, table in store.tables.items()})


def test_same_seed_same_data_and_another_seed_differs():
    assert snapshot(1) == snapshot(1)
    assert snapshot(1) != snapshot(2)


def test_scale_one_is_a_realistic_msp():
    store = create_app(seed=1).sandbox.store
    invoices = list(store.table("finance/invoices").values())
    assert len(invoices) == 500
    assert len([c for c in store.table("company/companies").values()
                if not c["isVendorFlag"]]) == 150
    assert len(store.table("system/members")) == 20
    assert {o["location"] for o in catalog.OFFICES} == {
        loc["name"] for loc in store.table("system/locations").values()}
    dates = sorted(i["date"] for i in invoices)
    assert dates[-1] <= f"{catalog.ANCHOR_DATE}T00:00:00Z" and dates[0] >= "2025-11"
    assert any(line.account == "4900" for lines in store.lines.values() for line in lines)


def test_scale_twenty_has_ten_thousand_invoices():
    store = create_app(seed=1, scale=20).sandbox.store
    assert len(store.table("finance/invoices")) == 10000
