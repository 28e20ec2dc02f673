"""Which Ferry this is: one answer for `flask --app app version`, the page footer and
/healthz. The release number lives in pyproject.toml (each release is also a git tag,
vX.Y.Z, and a section of CHANGELOG.md); it is read from the checkout's pyproject.toml
when there is one, so a `git pull` shows the new number even before the reinstall,
else from the installed package's metadata."""
from __future__ import annotations

import functools
import tomllib
from importlib import metadata
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent / "pyproject.toml"


@functools.cache
def version() -> str:
    try:
        with open(PYPROJECT, "rb") as fh:
            return tomllib.load(fh)["project"]["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        pass
    try:
        return metadata.version("ferry")
    except metadata.PackageNotFoundError:
        return "unknown"
