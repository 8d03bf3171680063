"""The OpenAPI document is the contract: terminal endpoints, operator endpoints, security, errors, UI."""

from __future__ import annotations

import json

import pytest

SPEC_URL = "/api/v1/openapi.json"

# docs/terminal-api.md, endpoint by endpoint: these must exist exactly so.
TERMINAL_ENDPOINTS = {
    "/api/v1/terminal": {"get"},
    "/api/v1/identify": {"post"},
    "/api/v1/sales/quote": {"post"},
    "/api/v1/sales": {"get", "post"},
    "/api/v1/sales/{sale_id}": {"get"},
    "/api/v1/sales/{sale_id}/refunds": {"post"},
}
IDEMPOTENT_TERMINAL_POSTS = ["/api/v1/sales", "/api/v1/sales/{sale_id}/refunds"]

# The operator API: every area must be documented, and these operations at least (extend as it grows).
OPERATOR_PREFIXES = [
    "/api/v1/merchants",
    "/api/v1/terminals",
    "/api/v1/members",
    "/api/v1/levels",
    "/api/v1/cards",
    "/api/v1/ledger",
]
OPERATOR_ENDPOINTS = [
    ("/api/v1/merchants", "get"),
    ("/api/v1/merchants", "post"),
    ("/api/v1/merchants/{merchant_id}", "get"),
    ("/api/v1/merchants/{merchant_id}", "patch"),
    ("/api/v1/merchants/{merchant_id}/terminals", "post"),
    ("/api/v1/terminals/{terminal_id}", "get"),
    ("/api/v1/levels", "get"),
    ("/api/v1/levels", "post"),
    ("/api/v1/levels/{level_id}", "patch"),
    ("/api/v1/members", "get"),
    ("/api/v1/members", "post"),
    ("/api/v1/members/{member_id}", "get"),
    ("/api/v1/members/{member_id}/points-adjustments", "post"),
    ("/api/v1/cards", "get"),
    ("/api/v1/ledger/accounts", "get"),
    ("/api/v1/ledger/transactions", "get"),
]

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture(scope="module")
def spec(app):
    response = app.test_client().get(SPEC_URL)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.json


def operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def test_document_header(spec):
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] == "AllianceCard API"
    assert spec["info"]["version"] == "v1"


def test_document_is_valid_openapi(spec):
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(spec)


@pytest.mark.parametrize("path", sorted(TERMINAL_ENDPOINTS))
def test_terminal_endpoints_with_their_methods(spec, path):
    assert path in spec["paths"], f"{path} is missing from the OpenAPI document"
    assert set(spec["paths"][path]) & HTTP_METHODS == TERMINAL_ENDPOINTS[path]
    for method in TERMINAL_ENDPOINTS[path]:
        security = spec["paths"][path][method]["security"]
        assert {"terminalToken": []} in security, f"{method.upper()} {path} does not accept a terminal token"


def test_terminal_only_endpoints_refuse_staff_tokens_in_the_document(spec):
    for path in ("/api/v1/terminal", "/api/v1/identify", "/api/v1/sales/quote"):
        assert spec["paths"][path][next(iter(TERMINAL_ENDPOINTS[path]))]["security"] == [{"terminalToken": []}]
    assert spec["paths"]["/api/v1/sales"]["post"]["security"] == [{"terminalToken": []}]


@pytest.mark.parametrize("path", IDEMPOTENT_TERMINAL_POSTS)
def test_idempotency_key_is_a_documented_required_header(spec, path):
    parameters = spec["paths"][path]["post"]["parameters"]
    headers = [p for p in parameters if p["in"] == "header" and p["name"] == "Idempotency-Key"]
    assert len(headers) == 1
    assert headers[0]["required"] is True
    assert headers[0]["schema"]["maxLength"] == 255


def test_terminal_request_and_response_schemas(spec):
    schemas = spec["components"]["schemas"]

    def body_schema(path, method, status):
        content = spec["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
        return schemas[content["$ref"].rsplit("/", 1)[-1]]

    quote = body_schema("/api/v1/sales/quote", "post", "200")
    assert set(quote["properties"]) == {
        "amount_fen",
        "discount_fen",
        "redeem_points",
        "redeem_value_fen",
        "payable_fen",
        "points_to_earn",
        "max_redeem_points",
        "voucher_fen",
        "voucher",
    }
    assert set(body_schema("/api/v1/identify", "post", "200")["properties"]) == {
        "member",
        "points_balance",
        "discount_bp",
        "identification",
        "card_update",
    }
    assert set(body_schema("/api/v1/sales", "post", "201")["properties"]) == {"sale", "member", "card_update"}
    assert set(body_schema("/api/v1/sales/{sale_id}/refunds", "post", "201")["properties"]) == {"refund"}
    quote_request = spec["paths"]["/api/v1/sales/quote"]["post"]["requestBody"]["content"]["application/json"]
    request_schema = schemas[quote_request["schema"]["$ref"].rsplit("/", 1)[-1]]
    assert set(request_schema["required"]) == {"identification_token", "amount_fen"}
    assert request_schema["properties"]["amount_fen"]["type"] == "integer"
    assert (
        request_schema["properties"]["voucher_code"]["maxLength"],
        request_schema["properties"]["voucher_id"]["maxLength"],
    ) == (64, 40)
    identification = schemas[
        schemas[
            body_schema("/api/v1/identify", "post", "200")["properties"]["identification"]["$ref"].rsplit("/", 1)[-1]
        ]["properties"]["vouchers"]["items"]["$ref"].rsplit("/", 1)[-1]
    ]
    assert set(identification["properties"]) == {
        "id",
        "name",
        "kind",
        "face_value_fen",
        "min_spend_fen",
        "discount_bp",
        "max_off_fen",
        "item_name",
        "expires_on",
        "code_last4",
    }


@pytest.mark.parametrize("prefix", OPERATOR_PREFIXES)
def test_operator_areas_are_documented(spec, prefix):
    assert any(path == prefix or path.startswith(prefix + "/") for path in spec["paths"]), prefix


@pytest.mark.parametrize(("path", "method"), OPERATOR_ENDPOINTS)
def test_operator_endpoints(spec, path, method):
    assert method in spec["paths"].get(path, {}), f"{method.upper()} {path} is not documented"
    assert {"personalToken": []} in spec["paths"][path][method]["security"]


def test_bearer_security_schemes(spec):
    schemes = spec["components"]["securitySchemes"]
    for name in ("terminalToken", "personalToken"):
        assert schemes[name]["type"] == "http"
        assert schemes[name]["scheme"] == "bearer"
    # every operation says who may call it, with schemes that exist
    for path, method, operation in operations(spec):
        assert operation.get("security"), f"{method.upper()} {path} declares no security"
        for requirement in operation["security"]:
            assert set(requirement) <= set(schemes), (path, method, requirement)


def test_error_schema_is_documented_and_used(spec):
    error = spec["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"error", "message", "status", "details"}
    assert set(error["required"]) == {"error", "message", "status"}
    assert error["properties"]["status"]["type"] == "integer"
    assert error["properties"]["details"]["type"] == "object"
    responses = spec["components"]["responses"]
    for name in ("DEFAULT_ERROR", "UNPROCESSABLE_ENTITY"):
        assert responses[name]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    for path, method, operation in operations(spec):
        assert operation["responses"]["default"] == {"$ref": "#/components/responses/DEFAULT_ERROR"}, (path, method)
        if "requestBody" in operation:
            assert operation["responses"]["422"] == {"$ref": "#/components/responses/UNPROCESSABLE_ENTITY"}


def test_the_error_shape_the_document_promises_is_what_the_api_sends(app, spec):
    client = app.test_client()
    for response in (
        client.get("/api/v1/terminal"),  # no token: 401
        client.post("/api/v1/identify", json={"phone": "1"}, headers={"Authorization": "Bearer tt_nope"}),
        client.get("/api/v1/no-such-endpoint"),
    ):
        assert response.status_code in {401, 404}
        body = response.json
        assert set(body) == {"error", "message", "status", "details"}
        assert body["status"] == response.status_code


def test_swagger_ui_page_and_its_assets(app):
    client = app.test_client()
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert SPEC_URL in html
    assert "SwaggerUIBundle" in html
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-ui-standalone-preset.js"):
        assert f"/api/v1/docs/static/{asset}" in html
        response = client.get(f"/api/v1/docs/static/{asset}")
        assert response.status_code == 200, asset
        assert len(response.data) > 1_000
    bundle = client.get("/api/v1/docs/static/swagger-ui-bundle.js")
    assert "javascript" in bundle.mimetype
    assert b"SwaggerUIBundle" in bundle.data
    missing = client.get("/api/v1/docs/static/no-such-file.js")
    assert missing.status_code == 404
    assert missing.json["error"] == "not_found"
    # no path escape from the asset directory
    assert client.get("/api/v1/docs/static/../../../setup.cfg").status_code == 404


# --- rules between fields, stated in the document (tests/api/test_schemathesis.py checks the server) ---


def _request_schema(spec, path, method="post"):
    ref = spec["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]


def _valid(spec, schema, instance) -> bool:
    jsonschema = pytest.importorskip("jsonschema")
    # OpenAPI 3.0 ``nullable`` -> JSON Schema, enough for these schemas; $refs resolve in "components"
    text = json.dumps({**schema, "components": spec["components"]})

    def convert(node):
        if isinstance(node, dict):
            node = {key: convert(value) for key, value in node.items()}
            if node.pop("nullable", False):
                node = {"anyOf": [node, {"type": "null"}]}
            return node
        if isinstance(node, list):
            return [convert(item) for item in node]
        return node

    return jsonschema.Draft7Validator(convert(json.loads(text))).is_valid(instance)


def test_identify_takes_exactly_one_of_card_code_phone(spec):
    schema = _request_schema(spec, "/api/v1/identify")
    card = {"uid": "04A1B2C3", "blocks": {}}
    assert _valid(spec, schema, {"phone": "13800138000"})
    assert _valid(spec, schema, {"code": "8860000000000010"})
    assert _valid(spec, schema, {"card": card})
    assert not _valid(spec, schema, {})
    assert not _valid(spec, schema, {"phone": "13800138000", "code": "8860000000000010"})
    assert not _valid(spec, schema, {"phone": "0"})  # not a mobile number


def test_online_and_offline_sales_have_their_own_shapes(spec):
    schema = _request_schema(spec, "/api/v1/sales")
    card = {"uid": "04A1B2C3", "blocks": {"4": "00" * 16}}
    assert _valid(spec, schema, {"identification_token": "id_x", "amount_fen": 100})
    assert not _valid(spec, schema, {"amount_fen": 100})  # an online sale needs its identification
    assert not _valid(spec, schema, {"identification_token": "id_x", "amount_fen": 100, "code": "8860000000000010"})
    assert _valid(spec, schema, {"offline": True, "card": card, "amount_fen": 100})
    assert _valid(spec, schema, {"offline": True, "code": "8860000000000010", "amount_fen": 100, "card": None})
    assert not _valid(spec, schema, {"offline": True, "amount_fen": 100})
    assert not _valid(spec, schema, {"offline": True, "card": card, "code": "8860000000000010", "amount_fen": 100})
    assert not _valid(spec, schema, {"offline": True, "card": card, "amount_fen": 100, "identification_token": "x"})
    assert not _valid(spec, schema, {"offline": True, "card": card, "amount_fen": 100, "redeem_points": 5})


def test_idempotency_key_character_set_and_replay_header(spec):
    for path, method, operation in operations(spec):
        keys = [p for p in operation.get("parameters", []) if p.get("name") == "Idempotency-Key"]
        if not keys:
            continue
        assert keys[0]["schema"] == {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"}
        success = [response for status, response in operation["responses"].items() if status.startswith("2")]
        assert success and all("Idempotent-Replayed" in response["headers"] for response in success), (path, method)


def test_patches_must_change_something_and_staff_roles_match_merchants(spec):
    for path, method, _operation in operations(spec):
        if method == "patch" and path != "/api/v1/terminals/{terminal_id}":
            assert _request_schema(spec, path, "patch")["minProperties"] == 1, path
    staff = _request_schema(spec, "/api/v1/staff")
    assert _valid(spec, staff, {"username": "ann", "role": "finance"})
    assert not _valid(spec, staff, {"username": "ann", "role": "finance", "merchant_id": "mer_x"})
    assert _valid(spec, staff, {"username": "bob", "role": "cashier", "merchant_id": "mer_x"})
    assert not _valid(spec, staff, {"username": "bob", "role": "cashier"})


def test_a_refund_threshold_comes_with_a_supervisor_pin(spec):
    create = _request_schema(spec, "/api/v1/merchants")
    merchant = {"name": "Tea", "trade": "food"}
    assert _valid(spec, create, merchant)
    assert _valid(spec, create, {**merchant, "refund_auth_threshold_fen": None, "refund_pin": ""})
    assert _valid(spec, create, {**merchant, "refund_auth_threshold_fen": 0, "refund_pin": "1234"})
    assert not _valid(spec, create, {**merchant, "refund_auth_threshold_fen": 10_000})  # a new merchant has no PIN
    assert not _valid(spec, create, {**merchant, "refund_auth_threshold_fen": 10_000, "refund_pin": ""})
    update = _request_schema(spec, "/api/v1/merchants/{merchant_id}", "patch")
    assert _valid(spec, update, {"refund_auth_threshold_fen": 10_000})  # the PIN stored before may do
    assert _valid(spec, update, {"refund_auth_threshold_fen": 10_000, "refund_pin": "87654321"})
    assert _valid(spec, update, {"refund_auth_threshold_fen": None, "refund_pin": ""})
    assert not _valid(spec, update, {"refund_auth_threshold_fen": 10_000, "refund_pin": ""})


def test_asking_for_a_proof_code_takes_an_empty_json_body(spec):
    body = spec["paths"]["/api/v1/identifications/{token}/proof-code"]["post"]["requestBody"]
    assert body["required"] is True  # terminal POSTs send JSON (server.api.terminal.authenticate)
    assert _valid(spec, _request_schema(spec, "/api/v1/identifications/{token}/proof-code"), {})
