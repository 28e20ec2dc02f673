"""The sandboxes and Ferry connected to them, as in tests/sync_e2e."""
from tests.sync_e2e.conftest import clock, cw, ferry, xero  # noqa: F401
