"""Checks every request a test sends and every answer the Xero sandbox gives against
Xero's own OpenAPI descriptions (../shared/reference/xero/).

Two layers: openapi-core validates what the spec declares (paths, parameters, types,
enums, the declared status codes), and `unknown_keys` walks each body and rejects any key
that is not a property of its schema, which the spec alone never does.

Allowed beyond the schemas, because real Xero sends them and the spec shows them only in
its examples: the response envelope (`Id`, `Status`, `ProviderName`, `DateTimeUTC`), and
the whole failed document inside a ValidationException's `Elements` (the schema's
`Element` lists only ids and ValidationErrors).
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

import yaml
from werkzeug.datastructures import Headers, ImmutableMultiDict

from tests.reference import reference_file

ENVELOPE = {"Id", "Status", "ProviderName", "DateTimeUTC"}
# Plural list key in a path -> the schema of one element (for Elements of a 400).
ELEMENT_SCHEMA = {"Invoices": "Invoice", "CreditNotes": "CreditNote", "Contacts": "Contact",
                  "Payments": "Payment", "Allocations": "Allocation"}
API_HOST = "https://api.xero.com"


@functools.lru_cache(maxsize=None)
def spec_dict(name: str) -> dict:
    with open(reference_file(f"xero/{name}"), encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@functools.lru_cache(maxsize=None)
def openapi(name: str):
    import copy

    from openapi_core import Config, OpenAPI
    # openapi-core cannot check OAuth2 (it warns "Unsupported scheme type"); bearer tokens
    # are the identity tests' business, so the copy it validates with drops `security`.
    spec = copy.deepcopy(spec_dict(name))
    spec.pop("security", None)
    for item in spec["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict):
                operation.pop("security", None)
    return OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))


def _resolve(spec: dict, schema: dict) -> dict:
    while "$ref" in schema:
        node = spec
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def unknown_keys(spec: dict, schema: dict, data, where: str = "$",
                 extra_at_root: set | None = None) -> list[str]:
    """Paths of keys in `data` that `schema` does not declare."""
    schema = _resolve(spec, schema)
    problems = []
    if isinstance(data, dict):
        props = schema.get("properties")
        if props is None:
            return problems
        allowed = set(props) | (extra_at_root or set())
        for key, value in data.items():
            if key not in allowed:
                problems.append(f"{where}.{key}")
            elif key in props:
                problems += unknown_keys(spec, props[key], value, f"{where}.{key}")
    elif isinstance(data, list) and "items" in schema:
        for i, item in enumerate(data):
            problems += unknown_keys(spec, schema["items"], item, f"{where}[{i}]")
    return problems


@dataclass
class _Request:
    host_url: str
    path: str
    method: str
    body: bytes | None
    content_type: str
    parameters: object = field(default=None)

    @property
    def full_url_pattern(self):
        return self.host_url + self.path


@dataclass
class _Response:
    status_code: int
    data: bytes
    content_type: str
    headers: Headers


def _as_request(method: str, path: str, query: str, headers: dict, body: bytes | None):
    from openapi_core.datatypes import RequestParameters
    params = RequestParameters(query=ImmutableMultiDict(parse_qsl(query, keep_blank_values=True)),
                               header=Headers(headers), cookie=ImmutableMultiDict())
    ctype = headers.get("content-type", headers.get("Content-Type", "application/json"))
    return _Request(API_HOST, path, method.lower(), body or None,
                    ctype.split(";")[0].lower(), params)


def _operation(spec: dict, method: str, path: str):
    """(path template, operation) declared for an /api.xro/2.0 path, matched the way
    Xero routes: case-sensitive segments, `{x}` for any one segment."""
    relative = path[len("/api.xro/2.0"):]
    parts = relative.strip("/").split("/")
    for template, item in spec["paths"].items():
        tparts = template.strip("/").split("/")
        if len(tparts) == len(parts) and all(
                t == p or (t.startswith("{") and t.endswith("}")) for t, p in zip(tparts, parts)):
            if method.lower() in item:
                return template, item[method.lower()]
    return None, None


def check_api_exchange(method: str, url: str, req_headers: dict, req_body: bytes | None,
                       status: int, resp_headers, resp_body: bytes) -> None:
    """Raise AssertionError if an /api.xro/2.0 exchange strays from xero_accounting.yaml."""
    spec = spec_dict("xero_accounting.yaml")
    parts = urlsplit(url)
    template, operation = _operation(spec, method, parts.path)
    assert operation is not None, f"{method} {parts.path} is not in Xero's spec"
    api = openapi("xero_accounting.yaml")
    request = _as_request(method, parts.path, parts.query, req_headers, req_body)
    errors = list(api.iter_request_errors(request))
    assert not errors, f"request {method} {parts.path} breaks the spec: {errors!r}"
    if req_body:
        sent = json.loads(req_body)
        body_schema = operation["requestBody"]["content"]["application/json"]["schema"]
        bad = unknown_keys(spec, body_schema, sent)
        assert not bad, f"request body keys not in the spec: {bad}"
    declared = operation["responses"]
    if str(status) not in declared:
        # Xero's auth, limit and not-found answers are not in the spec: checked elsewhere.
        assert status in {401, 403, 404, 406, 429}, f"undeclared status {status}"
        return
    ctype = resp_headers.get("content-type", "")
    response = _Response(status, resp_body, ctype.split(";")[0], Headers(dict(resp_headers)))
    errors = list(api.iter_response_errors(request, response))
    assert not errors, f"response to {method} {parts.path} breaks the spec: {errors!r}"
    body = json.loads(resp_body)
    schema = _resolve(spec, declared[str(status)])["content"]["application/json"]["schema"]
    if status == 400 and "Elements" in body:
        # The collection written is the path's last plural (/CreditNotes/{id}/Allocations).
        plural = max((p for p in ELEMENT_SCHEMA if p in template), key=template.rfind)
        element = {"properties": {**_resolve(spec, {"$ref": "#/components/schemas/Element"})["properties"],
                                  **_resolve(spec, {"$ref": f"#/components/schemas/{ELEMENT_SCHEMA[plural]}"})["properties"]}}
        bad = unknown_keys(spec, schema, {k: v for k, v in body.items() if k != "Elements"})
        for i, item in enumerate(body["Elements"]):
            bad += unknown_keys(spec, element, item, f"$.Elements[{i}]")
    else:
        bad = unknown_keys(spec, schema, body, extra_at_root=ENVELOPE)
    assert not bad, f"response keys not in the spec: {bad}"


def check_connections(body) -> None:
    """GET /connections against xero-identity.yaml."""
    from openapi_schema_validator import OAS30Validator

    spec = spec_dict("xero-identity.yaml")
    schema = spec["paths"]["/Connections"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"]
    resolved = {"type": "array", "items": _resolve(spec, schema["items"])}
    OAS30Validator(resolved).validate(body)
    assert not unknown_keys(spec, schema, body)
