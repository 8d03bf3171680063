"""The OpenAPI document says exactly what the server accepts and sends (tests/api/test_schemathesis.py).

A request schema whose validator relates several fields (exactly one of card / code / phone, a PATCH must
change something) states the same rule for the document in its ``OPENAPI_RULES`` class attribute;
:class:`ContractPlugin` merges it into the schema's component. Formats and patterns the server checks
outside marshmallow (card numbers, mobile numbers, chip UIDs) are defined here once and used by the
schemas and the path parameters. The plugin also corrects what apispec writes loosely, for every schema
at once: a nullable nested field accepts null or the nested object (not any object), a Dict's Length
bounds its entries, the 2xx responses of idempotent operations carry ``Idempotent-Replayed``, and every
field of a response-only schema is required (the server always sends it).
"""

from __future__ import annotations

import threading

from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import resolve_schema_instance

# server.domain.identifiers.normalize_mobile: 11 digits 1[3-9]..., optionally +86 / 0086, with spaces, '-', '()'
_SEP = "[ ()-]*"
MOBILE_PATTERN = rf"^{_SEP}(?:(?:\+|00){_SEP}8{_SEP}6{_SEP})?1{_SEP}[3-9](?:{_SEP}[0-9]){{9}}{_SEP}$"
MOBILE = {
    "pattern": MOBILE_PATTERN,
    "description": "Mainland China mobile number, e.g. 13800138000 or +86 138-0013-8000",
}
# server.domain.identifiers.is_valid_card_number: 16 digits, the last the Luhn check digit of the others
CARD_NUMBER = {
    "type": "string",
    "format": "card-number",
    "pattern": "^[0-9]{16}$",
    "description": "Printed card number: 16 digits, the last a Luhn check digit",
}
# server.domain.identifiers.classify_scanned_code: an 18-digit member code or a card number, spaces and '-' aside
MEMBER_CODE = {
    "pattern": r"^[ -]*(?:[0-9][ -]*){16}(?:[0-9][ -]*[0-9][ -]*)?$",
    "description": "What the scanner read: the member's 18-digit dynamic code or a 16-digit card number",
}
# server.services.cards.parse_uid: 4, 7 or 10 bytes in hexadecimal
CHIP_UID_PATTERN = "^(?:[0-9A-Fa-f]{8}|[0-9A-Fa-f]{14}|[0-9A-Fa-f]{20})$"


# server.api.idempotent: sent on a replay of the stored response
IDEMPOTENT_REPLAYED = {
    "description": "Present on the stored response of an earlier request with the same Idempotency-Key",
    "schema": {"type": "string", "enum": ["true"]},
}
RETRY_AFTER = {"description": "Seconds to wait before trying again", "schema": {"type": "integer", "minimum": 0}}


def path_parameter(name: str, schema: dict, description: str | None = None) -> dict:
    """A documented path parameter (overrides the plain string flask-smorest derives from the URL rule)."""
    parameter = {"in": "path", "name": name, "required": True, "schema": schema}
    if description:
        parameter["description"] = description
    return parameter


def null_or_absent() -> dict:
    """A property that, within one alternative of a ``oneOf``, may only be null (or left out)."""
    return {"nullable": True, "enum": [None]}


def _object_field_rules(self, field, ret: dict, **kwargs) -> dict:
    """A Dict field: its Length validator bounds the number of entries (apispec writes maxLength), and
    ``additionalProperties`` given in its metadata stands (apispec writes the value schema over it)."""
    if ret.get("type") == "object":
        for length, size in (("minLength", "minProperties"), ("maxLength", "maxProperties")):
            if length in ret:
                ret[size] = ret.pop(length)
        if "additionalProperties" in field.metadata:
            ret["additionalProperties"] = field.metadata["additionalProperties"]
    return {}


class ContractPlugin(MarshmallowPlugin):
    """The marshmallow plugin, plus each schema's ``OPENAPI_RULES`` merged into its component."""

    def init_spec(self, spec) -> None:
        super().init_spec(spec)
        self.converter.add_attribute_function(_object_field_rules)
        to_dict = spec.to_dict
        lock = threading.Lock()  # the document's dicts are shared: threads serving it at once take turns

        def carrying_every_field() -> dict:
            with lock:
                return _responses_carry_every_field(to_dict())

        spec.to_dict = carrying_every_field

    def operation_helper(self, path=None, operations=None, **kwargs) -> None:
        super().operation_helper(path=path, operations=operations, **kwargs)
        for operation in (operations or {}).values():
            if any(parameter.get("name") == "Idempotency-Key" for parameter in operation.get("parameters", [])):
                for status, response in operation.get("responses", {}).items():
                    if str(status).startswith("2") and isinstance(response, dict):
                        response.setdefault("headers", {})["Idempotent-Replayed"] = IDEMPOTENT_REPLAYED

    def schema_helper(self, name, _, schema=None, **kwargs):
        json_schema = super().schema_helper(name, _, schema=schema, **kwargs)
        if json_schema is not None:
            for prop in json_schema.get("properties", {}).values():
                _only_null_beside_ref(prop)
            json_schema.update(getattr(type(resolve_schema_instance(schema)), "OPENAPI_RULES", {}))
        return json_schema


def _only_null_beside_ref(prop: dict) -> None:
    """A nullable nested field: apispec offers ``{"type": "object", "nullable": true}`` (any object at all)
    beside the nested schema's $ref; what the field accepts there is null only."""
    alternatives = prop.get("anyOf", [])
    if any("$ref" in item for item in alternatives):
        prop["anyOf"] = [
            null_or_absent() if item == {"type": "object", "nullable": True} else item for item in alternatives
        ]


def _refs(node, found: set[str]) -> set[str]:
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        if ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[-1])
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for item in node:
            _refs(item, found)
    return found


def _closure(names: set[str], schemas: dict) -> set[str]:
    pending, seen = list(names), set()
    while pending:
        name = pending.pop()
        if name not in seen and name in schemas:
            seen.add(name)
            pending.extend(_refs(schemas[name], set()))
    return seen


def _responses_carry_every_field(document: dict) -> dict:
    """Every field of a schema that only responses use is always sent: mark it required.

    (Schemas a request also uses keep their own ``required``; so does one that states it already.)
    """
    schemas = document.get("components", {}).get("schemas", {})
    requests, responses = set(), set()
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, dict):
                _refs([operation.get("parameters", []), operation.get("requestBody", {})], requests)
                _refs(operation.get("responses", {}), responses)
    _refs(document.get("components", {}).get("responses", {}), responses)
    for name in _closure(responses, schemas) - _closure(requests, schemas):
        schema = schemas[name]
        if schema.get("properties") and "required" not in schema:
            schema["required"] = sorted(schema["properties"])
    return document
