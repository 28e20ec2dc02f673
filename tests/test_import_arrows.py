"""Dependencies point one way: blueprints → engine (jobs/, admin/) → sync/ and
connectors/ (and models). Nothing below the blueprints imports from them, and neither
sync/ nor connectors/ imports the engine, so a page's needs never leak into a cycle."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# package or module -> the top-level packages it must never import
NEVER = {
    "jobs": {"blueprints"},
    "admin": {"blueprints"},
    "sync": {"blueprints", "jobs", "admin", "connectors", "models"},
    "connectors": {"blueprints", "jobs", "admin"},
    "models.py": {"blueprints", "jobs", "admin", "connectors"},
    "config.py": {"blueprints", "jobs", "admin"},
    "security.py": {"blueprints", "jobs", "admin"},
}


def imported(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.append(node.module)
    return names


def test_nothing_imports_upwards():
    wrong = []
    for where, forbidden in NEVER.items():
        target = ROOT / where
        files = [target] if target.is_file() else sorted(target.rglob("*.py"))
        assert files, where
        for path in files:
            for name in imported(path):
                if name.split(".")[0] in forbidden:
                    wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert wrong == []
