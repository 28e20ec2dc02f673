"""Production installs no test tools: requirements.lock holds the runtime pins only, and
requirements-test.lock the very same pins plus the test extra (so the suite tests the
versions production runs)."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEST_TOOLS = {"pytest", "pytest-xdist", "playwright", "ruff", "hypothesis", "aiosmtpd",
              "jsonschema", "openapi-core"}


def pins(name: str) -> dict[str, str]:
    text = (ROOT / name).read_text()
    return {m.group(1).lower(): m.group(2)
            for m in re.finditer(r"^([A-Za-z0-9_.-]+)==(\S+) \\", text, re.M)}


def test_the_runtime_lock_has_no_test_tools_and_every_pin_a_hash():
    runtime = pins("requirements.lock")
    assert "flask" in runtime and "gunicorn" in runtime
    assert not TEST_TOOLS & set(runtime), TEST_TOOLS & set(runtime)
    text = (ROOT / "requirements.lock").read_text()
    for block in re.split(r"\n(?=[A-Za-z0-9_.-]+==)", text)[1:]:     # one per package
        assert "--hash=sha256:" in block, block.splitlines()[0]
    assert "--extra-index-url" not in text and "--find-links" not in text  # this machine's


def test_the_test_lock_adds_the_test_tools_to_the_same_pins():
    runtime, test = pins("requirements.lock"), pins("requirements-test.lock")
    assert TEST_TOOLS <= set(test)
    assert {name: test.get(name) for name in runtime} == runtime
