"""What every request's input must be before any view sees it, whatever the page, endpoint or field.

One home for the rules that protect the database and the interpreter from input no field validator is
written for: PostgreSQL refuses NUL in text and integers beyond 64 bits, Python refuses JSON nested
deeper than its recursion limit, and no text a person means contains NUL or half a UTF-16 pair.

- the path, every query and form parameter, every header and every string in a JSON body (keys too)
  must be text without NUL and without lone surrogates (``check_request``, run before every view);
- a JSON body is read by ``load_json`` (the app's JSON provider, so ``request.get_json()`` everywhere)
  before the view: nested at most ``MAX_JSON_DEPTH`` deep, integers within 64 bits, no
  ``NaN``/``Infinity`` (webargs then parses the same, already checked, text again for the schemas);
- path converters are bounded: ``<int:...>`` within 64 bits, string segments at most
  ``MAX_PATH_SEGMENT`` characters (a longer one matches no route: 404).

A request that breaks a rule gets 422 ``invalid_request`` in the one error shape and changes nothing.
"""

from __future__ import annotations

import json
import re

from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import IntegerConverter, UnicodeConverter

from server.domain.errors import InvalidRequest

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
MAX_JSON_DEPTH = 20
MAX_PATH_SEGMENT = 100

_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
_INT64_DIGITS = len(str(INT64_MAX))


class UnacceptableInput(InvalidRequest):
    """Input no endpoint accepts: NUL, a lone surrogate, JSON too deep, an integer beyond 64 bits.

    ``details`` are those of a schema error: ``{"fields": ...}`` names the field (JSON body fields by
    their path, other locations under ``query``, ``form``, ``path`` or ``headers``), plus ``reason``.
    """

    def __init__(self, message: str, reason: str, location: str, path: tuple = ()):
        fields: dict = {}
        node = fields if location == "json" else fields.setdefault(location, {})
        # name the field without echoing bad text (a key with NUL) or a path as deep as the input
        path = tuple(_printable(step) for step in path[: 1 if reason == "too_deep" else MAX_JSON_DEPTH])
        *parents, leaf = path or ("_schema",)
        for name in parents:
            node = node.setdefault(name, {})
        node[leaf] = [message]
        super().__init__(message, fields=fields, reason=reason)


def _printable(step) -> str | int:
    if isinstance(step, str) and _BAD_TEXT.search(step):
        return _BAD_TEXT.sub(lambda match: f"\\u{ord(match.group()):04x}", step)
    return step


TEXT_MESSAGES = {
    "nul_character": "Text may not contain NUL characters.",
    "lone_surrogate": "Text is not valid Unicode.",
}


def text_fault(value: str) -> str | None:
    """``"nul_character"`` or ``"lone_surrogate"`` when ``value`` may not be stored as text, else None."""
    match = _BAD_TEXT.search(value)
    if match is None:
        return None
    return "nul_character" if match.group() == "\x00" else "lone_surrogate"


def check_text(value: str, location: str, path: tuple = ()) -> None:
    """Refuse text that PostgreSQL or UTF-8 cannot hold."""
    if (reason := text_fault(value)) is not None:
        raise UnacceptableInput(TEXT_MESSAGES[reason], reason, location, path)


class _HugeInteger:
    """What a JSON integer of absurd length parses to (Python refuses to convert > 4300 digits)."""


def _json_int(digits: str) -> int | type[_HugeInteger]:
    return int(digits) if len(digits) <= _INT64_DIGITS + 1 else _HugeInteger


def _json_constant(name: str):
    raise UnacceptableInput(f"{name} is not JSON.", "invalid_number", "json")


def _too_deep(path: tuple) -> UnacceptableInput:
    return UnacceptableInput(f"JSON may be nested at most {MAX_JSON_DEPTH} levels deep.", "too_deep", "json", path)


def _check_json_value(document) -> None:
    """Walk the parsed document without recursion: depth, integers, text of keys and strings."""
    stack = [(document, 1, ())]
    while stack:
        value, depth, path = stack.pop()
        if isinstance(value, str):
            check_text(value, "json", path)
        elif value is _HugeInteger or (type(value) is int and not INT64_MIN <= value <= INT64_MAX):
            raise UnacceptableInput("Integers must fit in 64 bits.", "integer_out_of_range", "json", path)
        elif isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise _too_deep(path)
            if isinstance(value, dict):
                for key, item in value.items():
                    check_text(key, "json", (*path, key))
                    stack.append((item, depth + 1, (*path, key)))
            else:
                stack.extend((item, depth + 1, (*path, index)) for index, item in enumerate(value))


def load_json(data: str | bytes):
    """Parse a request's JSON under this module's rules (``json.JSONDecodeError`` for what is not JSON)."""
    try:
        document = json.loads(data, parse_int=_json_int, parse_constant=_json_constant)
    except RecursionError:
        raise _too_deep(()) from None
    _check_json_value(document)
    return document


class RequestJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider, reading JSON with ``load_json`` (``request.get_json()`` everywhere)."""

    def loads(self, s: str | bytes, **kwargs):
        return load_json(s)


def check_request() -> None:
    """Before every view: the path, headers, query and form parameters and the JSON body keep the rules."""
    if request.routing_exception is not None:
        return  # no view will read it: the 404 or 405 says more
    if text_fault(request.path):
        names = [
            name for name, value in (request.view_args or {}).items() if isinstance(value, str) and text_fault(value)
        ]
        check_text(request.path, "path", tuple(names[:1]))
    for name, value in request.headers.items():
        check_text(value, "headers", (name,))
    locations = [("query", request.args)] + ([("form", request.form)] if request.mimetype != "application/json" else [])
    for location, params in locations:
        for name, values in params.lists():
            check_text(name, location, (name,))
            for value in values:
                check_text(value, location, (name,))
    if request.is_json and request.content_length != 0:
        request.get_json(silent=True)  # parsed and cached for the view; a syntax error is the view's to report


class BoundedIntegerConverter(IntegerConverter):
    """``<int:...>`` that matches only what a 64-bit column can hold."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = None, signed=False):  # noqa: A002
        super().__init__(map, fixed_digits, min, INT64_MAX if max is None else max, signed)


class BoundedStringConverter(UnicodeConverter):
    """The default ``<name>`` converter, at most ``MAX_PATH_SEGMENT`` characters unless a rule says otherwise."""

    def __init__(self, map, minlength: int = 1, maxlength: int | None = None, length: int | None = None):
        super().__init__(map, minlength, MAX_PATH_SEGMENT if maxlength is None else maxlength, length)


def init_request_input(app: Flask) -> None:
    """Install the JSON provider, the bounded path converters and the check before every view.

    Call before any blueprint is registered: rules take their converters when they are added.
    """
    app.json = RequestJSONProvider(app)
    app.url_map.converters["int"] = BoundedIntegerConverter
    app.url_map.converters["default"] = BoundedStringConverter
    app.url_map.converters["string"] = BoundedStringConverter
    app.before_request_funcs.setdefault(None, []).insert(0, check_request)
