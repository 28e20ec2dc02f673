"""The sandboxes and a connected Ferry, as in tests/sync_e2e."""
from tests.sync_e2e.conftest import cw, ferry, xero  # noqa: F401
