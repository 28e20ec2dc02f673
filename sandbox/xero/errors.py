"""The error bodies Xero returns, in one place so every route answers alike.

- API auth problems use the problem-details shape (`Type/Title/Status/Detail/Instance/
  Extensions`): 401 `TokenExpired: ...` or `AuthorizationUnsuccessful` (scope), 403
  `AuthenticationUnsuccessful` (tenant header missing, unknown or not connected).
- Validation uses `{ErrorNumber: 10, Type: ValidationException, Message: "A validation
  exception occurred", Elements: [...]}`; a body that is not valid JSON is ErrorNumber 14
  `PostDataInvalidException`; an unknown id is a 404 with a plain text body.
"""
from __future__ import annotations

import uuid

from flask import Response

from .jsonio import respond


def problem(status: int, title: str, detail: str, headers: dict | None = None):
    body = {"Type": None, "Title": title, "Status": status, "Detail": detail,
            "Instance": str(uuid.uuid4()), "Extensions": {}}
    return respond(body, status, headers)


def validation_exception(elements: list[dict], message: str = "A validation exception occurred"):
    return respond({"ErrorNumber": 10, "Type": "ValidationException",
                    "Message": message, "Elements": elements}, 400)


def post_data_invalid(message: str):
    return respond({"ErrorNumber": 14, "Type": "PostDataInvalidException",
                    "Message": message}, 400)


def not_found():
    return Response("The resource you're looking for cannot be found", status=404,
                    mimetype="text/plain")
