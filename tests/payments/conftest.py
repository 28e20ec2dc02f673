"""Both sandboxes over loopback HTTP with Ferry connected (the fixtures of
tests/sync_e2e), and a first invoice cycle already written to Xero."""
import pytest

from tests.sync_e2e.conftest import clock, cw, ferry, xero  # noqa: F401  (fixtures)


@pytest.fixture
def synced(ferry, cw, xero):  # noqa: F811
    """Invoices and credit memos written to Xero (AUTHORISED, as the demo sets)."""
    from jobs.cycle import run_cycle
    assert run_cycle("invoice").status == "done"
    assert run_cycle("credit_note").status == "done"
    return ferry
