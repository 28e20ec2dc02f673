"""Fixtures of the sync tests."""
import pytest

from tests.reference import reference_file


@pytest.fixture(scope="session")
def schemas():
    """The component schemas of Xero's Accounting API spec (skips when it is absent)."""
    yaml = pytest.importorskip("yaml")
    with open(reference_file("xero/xero_accounting.yaml"), encoding="utf-8") as f:
        return yaml.safe_load(f)["components"]["schemas"]
