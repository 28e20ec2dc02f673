"""sync/ is pure: it imports nothing that does I/O, and no clock or file access."""
import ast
from pathlib import Path

SYNC = Path(__file__).resolve().parents[2] / "sync"
ALLOWED = {"__future__", "dataclasses", "decimal", "datetime", "typing", "hashlib", "json",
           "re", "csv",   # csv: parsing and writing text in memory (sync/mapping_csv.py)
           "codecs",      # the byte-order marks of an uploaded file's bytes, in memory
           "urllib.parse", "zoneinfo"}   # building query strings; timezone arithmetic
# The time module cannot be imported here (above), so a time() call is datetime.time's.
FORBIDDEN_CALLS = {"open", "now", "today", "utcnow", "getenv"}


def test_sync_imports_only_pure_modules():
    for path in SYNC.glob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [] if node.level else [node.module]
            else:
                continue
            # A module is allowed by its full name (urllib.parse, not urllib.request)
            # or by its top-level package.
            refused = [n for n in names if n not in ALLOWED and n.split(".")[0] not in ALLOWED]
            assert not refused, f"{path.name} imports {refused}"


def test_sync_reads_no_clock_and_no_files():
    for path in SYNC.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
                assert name not in FORBIDDEN_CALLS, f"{path.name} calls {name}()"


def test_package_init_stays_empty():
    assert (SYNC / "__init__.py").read_text() == ""
