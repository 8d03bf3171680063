"""The Api object with the project's single JSON error shape."""

from __future__ import annotations

import marshmallow as ma
from flask import Response, jsonify
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from server.domain.errors import DomainError
from server.error_text import translate, translate_fields

HTTP_ERROR_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "invalid_request",
    422: "invalid_request",
    429: "rate_limited",
    431: "headers_too_large",
}


class ErrorSchema(ma.Schema):
    """The one error shape of every 4xx/5xx response."""

    error = ma.fields.String(required=True, metadata={"description": "Stable error code"})
    message = ma.fields.String(required=True, metadata={"description": "Text for a person"})
    status = ma.fields.Integer(required=True)
    details = ma.fields.Dict(metadata={"description": "Machine-readable details"})


def error_response(code: str, message: str, status: int, details: dict | None = None, headers=None) -> Response:
    """A JSON error response in the project's shape, its message in the request's language (every caller:
    the API, the member and agent pages' JSON endpoints, health checks)."""
    body = {"error": code, "message": translate(message), "status": status, "details": details or {}}
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


class AllianceApi(Api):
    """flask-smorest Api whose errors all use ErrorSchema's shape."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self):
        super()._register_error_handlers()
        self._app.register_error_handler(DomainError, self.handle_domain_error)

    def handle_domain_error(self, error: DomainError):
        """A business rule refused the request."""
        details = error.details
        if "fields" in details:  # a refusal naming fields carries their messages, in the request's language too
            details = {**details, "fields": translate_fields(details["fields"])}
        return error_response(error.code, error.message, error.status, details)

    def handle_http_exception(self, error: HTTPException):
        """Any HTTP error (including validation errors and 500s) in the one shape."""
        status = error.code or 500
        data = getattr(error, "data", None) or {}
        details = {}
        if "messages" in data:  # webargs validation errors, by location
            messages = data["messages"]
            details = {"fields": translate_fields(messages.get("json", messages))}
        if status == 422 or status == 400:
            code, status = "invalid_request", 422
            message = "The request is not valid." if details else (error.description or "The request is not valid.")
        else:
            code = HTTP_ERROR_CODES.get(status, "internal_error" if status >= 500 else "error")
            message = data.get("message") or error.description or error.name
        if status >= 500:
            message = "Internal server error."
        # the headers HTTP defines for the error (Allow of a 405, WWW-Authenticate, Retry-After), not its HTML type
        headers = {name: value for name, value in error.get_headers() if name.lower() != "content-type"}
        return error_response(code, message, status, details, {**headers, **(data.get("headers") or {})})
