"""How record types are named on the pages (sync/labels.py), and the filters' date."""
from sync.labels import DOCUMENT_TYPES, MANY, ONE  # noqa: F401 (the pages import them here)

def filter_date(raw: str, label: str, errors: list[str]):
    """A filter's date typed as 2026-11-21, or None; a sentence in `errors` if it is not
    a date (the records and audit filters share it)."""
    from datetime import date
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors.append(f"{label} date “{raw}” is not a date like 2026-11-21.")
        return None
