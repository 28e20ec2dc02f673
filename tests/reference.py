"""Where the official API descriptions live, for contract tests.

They sit in ../shared/reference/ beside the checkout (never copied into Ferry). On a
user's machine that folder is absent and the contract tests skip, saying why.
"""
import os
from pathlib import Path

import pytest

REFERENCE_DIR = Path(
    os.environ.get("FERRY_REFERENCE_DIR")
    or Path(__file__).resolve().parents[1].parent / "shared" / "reference"
)


def reference_file(relative: str) -> Path:
    """The path of a reference file, or skip the calling test with the reason."""
    path = REFERENCE_DIR / relative
    if not path.is_file():
        pytest.skip(
            f"API reference {relative} not found under {REFERENCE_DIR}: contract tests "
            "need ../shared/reference beside the checkout (or FERRY_REFERENCE_DIR)"
        )
    return path
