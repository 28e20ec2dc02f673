"""Issue 20, item 4 (3): a mapping table had no pages: 19,000 item mappings (one
allowed import) made a 16 MB page in 2.7 s. Each table now shows PAGE_SIZE rows a page,
with Previous / Next links that work as plain links and as htmx requests, keeping the
filter; adding, editing and deleting keep or find the row's page."""
import re
import time

from blueprints.mappings.tables import PAGE_SIZE
from models import AccountMapping, ChoiceList, ItemMapping, db
from tests.conftest import csrf_token
from tests.test_mappings_page import _orgs

HX = {"HX-Request": "true"}


def _items(app, org, count):
    with app.app_context(), db.connection_context():
        rows = [{"org": org, "cw_item": f"ITEM-{n:05d}", "xero_item_code": f"X{n % 7}"}
                for n in range(count)]
        with db.atomic():
            for start in range(0, count, 500):
                ItemMapping.insert_many(rows[start:start + 500]).execute()


def _row_ids(html):
    return re.findall(r'<tr id="row-(\d+)"', html)


def test_19000_item_mappings_make_a_small_page(app, client, auth):
    org, _ = _orgs(app)
    _items(app, org, 19_000)
    auth.login()
    started = time.monotonic()
    page = client.get(f"/mappings/org/{org}/items")
    took = time.monotonic() - started
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert len(_row_ids(html)) == PAGE_SIZE
    assert len(html) < 400_000, len(html)
    assert took < 2.0, took
    assert f"Page 1 of {19_000 // PAGE_SIZE}" in html
    assert "ITEM-00000" in html and f"ITEM-{PAGE_SIZE:05d}" not in html


def test_pages_link_to_each_other_without_javascript_and_with_htmx(app, client, auth):
    org, _ = _orgs(app)
    _items(app, org, 2 * PAGE_SIZE + 50)
    auth.login()
    first = client.get(f"/mappings/org/{org}/items").get_data(as_text=True)
    assert "Previous page" not in first
    link = re.search(r'<a href="([^"]+)" hx-get="([^"]+)"\s+hx-target="#mapping-table"'
                     r'[^>]*rel="next">Next page', first)
    assert link and link.group(1) == link.group(2) and "page=2" in link.group(1)
    second = client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert "<html" in second and f"ITEM-{PAGE_SIZE:05d}" in second
    assert "Previous page" in second and "Next page" in second
    third = client.get(f"/mappings/org/{org}/items?page=3", headers=HX)
    html = third.get_data(as_text=True)
    assert "<html" not in html and html.lstrip().startswith('<div id="mapping-table">')
    assert len(_row_ids(html)) == 50 and "Next page" not in html
    # Past the last page: the last page (clamped), not an empty table or an error.
    beyond = client.get(f"/mappings/org/{org}/items?page=99").get_data(as_text=True)
    assert len(_row_ids(beyond)) == 50 and "Page 3 of 3" in beyond


def test_the_filter_is_kept_in_the_page_links(app, client, auth):
    org, _ = _orgs(app)
    _items(app, org, 3 * PAGE_SIZE)
    auth.login()
    # ITEM-001xx: 100 rows; ITEM-00 prefix: 300 rows, so three pages.
    html = client.get(f"/mappings/org/{org}/items?q=ITEM-00").get_data(as_text=True)
    nxt = re.search(r'href="([^"]+)"[^>]*rel="next"', html).group(1).replace("&amp;", "&")
    assert "q=ITEM-00" in nxt and "page=2" in nxt
    second = client.get(nxt, headers=HX).get_data(as_text=True)
    assert 'value="ITEM-00"' in second
    prev = re.search(r'href="([^"]+)"[^>]*rel="prev"', second).group(1).replace("&amp;", "&")
    assert "q=ITEM-00" in prev
    narrow = client.get(f"/mappings/org/{org}/items?q=ITEM-001").get_data(as_text=True)
    assert len(_row_ids(narrow)) == PAGE_SIZE and "Next page" not in narrow


def test_add_edit_and_delete_keep_the_rows_page(app, client, auth):
    org, _ = _orgs(app)
    with app.app_context(), db.connection_context():
        with db.atomic():
            AccountMapping.insert_many([{"org": org, "cw_account": f"{4000 + n}",
                                         "xero_code": "200"}
                                        for n in range(2 * PAGE_SIZE)]).execute()
        ChoiceList.update(items=[{"value": str(4000 + n), "label": f"{4000 + n} Sales {n}",
                                  "active": True} for n in range(2 * PAGE_SIZE)] + [
            {"value": "4900", "label": "4900 Freight", "active": True}]).where(
            (ChoiceList.source == "connectwise") & (ChoiceList.kind == "gl_accounts")).execute()
        last = AccountMapping.get(AccountMapping.cw_account == str(4000 + 2 * PAGE_SIZE - 1))
    auth.login()
    token = csrf_token(client, f"/mappings/org/{org}/accounts")
    # Without JavaScript: the edit link of a row on page 2 opens page 2.
    page2 = client.get(f"/mappings/org/{org}/accounts?page=2").get_data(as_text=True)
    assert f"edit={last.id}" in page2 and "page=2" in re.search(
        rf'href="([^"]*edit={last.id}[^"]*)"', page2).group(1)
    opened = client.get(f"/mappings/org/{org}/accounts/{last.id}/edit")
    assert opened.status_code == 302 and "page=2" in opened.headers["Location"]
    # htmx: the edit row alone.
    row = client.get(f"/mappings/org/{org}/accounts/{last.id}/edit", headers=HX)
    assert row.status_code == 200 and f'id="row-{last.id}"' in row.get_data(as_text=True)
    saved = client.post(f"/mappings/org/{org}/accounts/{last.id}", headers=HX, data={
        "csrf_token": token, "cw_gl_account": last.cw_account, "xero_account_code": "260"})
    assert saved.status_code == 200 and "Saved" in saved.get_data(as_text=True)
    # Adding a row answers with the page it landed on (4900 sorts after 4199).
    added = client.post(f"/mappings/org/{org}/accounts/new", headers=HX, data={
        "csrf_token": token, "cw_gl_account": "4900", "xero_account_code": "200"})
    html = added.get_data(as_text=True)
    assert added.status_code == 200, re.findall(r'role="alert">([^<]+)', html)
    assert "Page 3 of 3" in html and "4900 Freight" in html
    # Without JavaScript a save goes back to the row's own page.
    plain = client.post(f"/mappings/org/{org}/accounts/{last.id}", data={
        "csrf_token": token, "cw_gl_account": last.cw_account, "xero_account_code": "200"})
    assert plain.status_code == 302 and "page=2" in plain.headers["Location"]
    # Bulk on page 2 answers with page 2.
    bulk = client.post(f"/mappings/org/{org}/accounts/bulk", headers=HX, data={
        "csrf_token": token, "ids": str(last.id), "bulk_value": "200", "page": "2"})
    assert "Page 2 of 3" in bulk.get_data(as_text=True)
