"""The operator endpoints in the OpenAPI document: paths, staff security, Idempotency-Key, pagination."""

from __future__ import annotations

OPERATOR_OPERATIONS = {
    ("/api/v1/merchants", "get"),
    ("/api/v1/merchants", "post"),
    ("/api/v1/merchants/{merchant_id}", "get"),
    ("/api/v1/merchants/{merchant_id}", "patch"),
    ("/api/v1/merchants/{merchant_id}/level-discounts", "get"),
    ("/api/v1/merchants/{merchant_id}/level-discounts/{level_id}", "put"),
    ("/api/v1/merchants/{merchant_id}/terminals", "get"),
    ("/api/v1/merchants/{merchant_id}/terminals", "post"),
    ("/api/v1/terminals/{terminal_id}", "get"),
    ("/api/v1/terminals/{terminal_id}", "patch"),
    ("/api/v1/terminals/{terminal_id}/token", "post"),
    ("/api/v1/levels", "get"),
    ("/api/v1/levels", "post"),
    ("/api/v1/levels/{level_id}", "get"),
    ("/api/v1/levels/{level_id}", "patch"),
    ("/api/v1/levels/evaluations", "post"),
    ("/api/v1/members", "get"),
    ("/api/v1/members", "post"),
    ("/api/v1/members/search", "post"),
    ("/api/v1/members/{member_id}", "get"),
    ("/api/v1/members/{member_id}/phone", "get"),
    ("/api/v1/members/{member_id}/cards", "post"),
    ("/api/v1/members/{member_id}/points-adjustments", "post"),
    ("/api/v1/members/{member_id}/ledger", "get"),
    ("/api/v1/cards", "get"),
    ("/api/v1/cards", "post"),
    ("/api/v1/cards/{card_id}", "get"),
    ("/api/v1/ledger/accounts", "get"),
    ("/api/v1/ledger/accounts/{account_id}/entries", "get"),
    ("/api/v1/ledger/transactions", "get"),
    ("/api/v1/staff", "get"),
    ("/api/v1/staff", "post"),
    ("/api/v1/staff/{user_id}/tokens", "post"),
}
READ_ONLY_POSTS = {("/api/v1/members/search", "post")}  # a search by phone: POST keeps it out of URLs
PAGINATED = READ_ONLY_POSTS | {
    (path, "get")
    for path in (
        "/api/v1/merchants",
        "/api/v1/merchants/{merchant_id}/terminals",
        "/api/v1/levels",
        "/api/v1/members",
        "/api/v1/members/{member_id}/ledger",
        "/api/v1/cards",
        "/api/v1/ledger/accounts",
        "/api/v1/ledger/accounts/{account_id}/entries",
        "/api/v1/ledger/transactions",
        "/api/v1/staff",
    )
}


def test_every_operator_operation_is_documented_for_staff_tokens(client):
    spec = client.get("/api/v1/openapi.json").json
    documented = {
        (path, method)
        for path, item in spec["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    assert not OPERATOR_OPERATIONS - documented
    for path, method in OPERATOR_OPERATIONS:
        operation = spec["paths"][path][method]
        assert operation["security"] == [{"personalToken": []}], (path, method)
        parameters = {parameter["name"] for parameter in operation.get("parameters", [])}
        assert ("Idempotency-Key" in parameters) == (method == "post" and (path, method) not in READ_ONLY_POSTS)
        assert ({"page", "page_size"} <= parameters) == ((path, method) in PAGINATED), (path, method)
        assert operation.get("summary"), (path, method)
    member = spec["components"]["schemas"]["MemberSummary"]["properties"]
    assert "masked_phone" in member and "phone" not in member


def test_no_operation_takes_a_phone_number_in_its_url(client):
    """Phone numbers go in request bodies only: URLs are written to access logs."""
    spec = client.get("/api/v1/openapi.json").json
    in_urls = [
        (path, method, parameter["name"])
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
        for parameter in [*item.get("parameters", []), *operation.get("parameters", [])]
        if parameter["in"] in {"query", "path"} and any(word in parameter["name"] for word in ("phone", "mobile"))
    ]
    assert in_urls == []
    search = spec["paths"]["/api/v1/members/search"]["post"]
    body = search["requestBody"]["content"]["application/json"]["schema"]
    schema = spec["components"]["schemas"][body["$ref"].rsplit("/", 1)[-1]]
    assert {"required": ["phone"]} in schema["anyOf"] and {"required": ["phone_ending"]} in schema["anyOf"]
