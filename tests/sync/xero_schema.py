"""A key-and-type checker for payloads against Xero's OpenAPI schemas.

The spec declares few required fields and forbids no unknown keys, so the check that
every key is a property of its schema is ours."""
import re
import uuid
from decimal import Decimal as D

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}$")


def check(value, schema, schemas, path="$"):
    """Raise AssertionError naming the first key or value the schema does not allow."""
    if "$ref" in schema:
        schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        assert isinstance(value, dict), f"{path} should be an object"
        for key, item in value.items():
            assert key in schema["properties"], f"{path}.{key} is not a property"
            check(item, schema["properties"][key], schemas, f"{path}.{key}")
    elif kind == "array":
        assert isinstance(value, list), f"{path} should be an array"
        for i, item in enumerate(value):
            check(item, schema["items"], schemas, f"{path}[{i}]")
    elif kind == "string":
        assert isinstance(value, str), f"{path} should be a string, is {value!r}"
        if "maxLength" in schema:
            assert len(value) <= schema["maxLength"], f"{path} is too long"
        if schema.get("format") == "uuid":
            uuid.UUID(value)
        if path.endswith(("Date", "DueDate")):
            assert _DATE.match(value), f"{path} should be YYYY-MM-DD"
    elif kind == "number":
        assert isinstance(value, (D, int)) and not isinstance(value, bool), \
            f"{path} should be a Decimal number, is {value!r}"
    elif kind == "integer":
        assert isinstance(value, int) and not isinstance(value, bool), f"{path} not integer"
    elif kind == "boolean":
        assert isinstance(value, bool), f"{path} should be a boolean"
    if "enum" in schema:
        assert value in schema["enum"], f"{path}: {value!r} not in {schema['enum']}"
