"""Text a person typed (a form field, a search box in the address), checked before it
reaches the database. PostgreSQL refuses a NUL character in any text and a value longer
than its column (255 for a CharField) with an error, where SQLite stores both: without
this check such input is a 500 on PostgreSQL only. Browsers never send NUL from a
keyboard, so a value holding one was pasted from something odd or sent on purpose."""

# A CharField's length on PostgreSQL (peewee's default varchar(255)).
FIELD_LENGTH = 255
# A search box needs no more than this; a longer one is not something typed.
SEARCH_LENGTH = 200


def storable(text: str, max_length: int = FIELD_LENGTH) -> bool:
    """Whether both databases can hold `text` in a column of `max_length` characters."""
    return "\x00" not in text and len(text) <= max_length


def storable_form(text: str, max_length: int = FIELD_LENGTH) -> str:
    """`text` made storable (NULs dropped, cut to length): for a value kept only for
    counting, such as the e-mail of a failed sign-in."""
    return text.replace("\x00", "")[:max_length]


def search_text(raw: str, label: str, errors: list[str],
                max_length: int = SEARCH_LENGTH) -> str:
    """A search filter's text, stripped; "" with a sentence in `errors` when it cannot
    be searched for (the other filters still apply). Like blueprints.labels.filter_date."""
    text = (raw or "").strip()
    if "\x00" in text:
        errors.append(f"{label} holds an invisible character (NUL) that cannot be "
                      "searched for. Type the text again instead of pasting it.")
        return ""
    if len(text) > max_length:
        errors.append(f"{label} is longer than {max_length} characters; search for a "
                      "shorter part of it.")
        return ""
    return text
