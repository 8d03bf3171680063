"""No input gets a 5xx: each class of bad input, over every endpoint the app has (enumerated from its
OpenAPI document and URL map, so an endpoint added later is covered without editing this file), gets
a 4xx in the one JSON error shape and changes nothing. The 5xx showed on PostgreSQL (psycopg refuses
NUL in text and integers beyond 64 bits): run with DATABASE_URL=postgresql://... as well.
"""

from __future__ import annotations

import json
import re

import pytest
from flask_smorest import Blueprint as SmorestBlueprint

from server.api.blueprint import MAX_PAGE, Blueprint
from server.request_input import INT64_MAX, MAX_JSON_DEPTH, MAX_PATH_SEGMENT
from tests.api.operator_support import assert_error, make_staffed_world, snapshot, with_key
from tests.live_server import identify, sell

SPEC_URL = "/api/v1/openapi.json"
METHODS = ("get", "put", "post", "patch", "delete")
PATH_PARAMETER = re.compile(r"{([^}]+)}")


@pytest.fixture(scope="module")
def spec(app):
    return app.test_client().get(SPEC_URL).json


@pytest.fixture
def w(app):
    with app.app_context():
        return make_staffed_world()


def operations(spec):
    """(path, method, operation) of every documented operation."""
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def resolve(spec, schema: dict) -> dict:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def fill(path: str, value: str = "1") -> str:
    """The documented path with every parameter set to ``value``."""
    return PATH_PARAMETER.sub(value, path)


def body_properties(spec, operation) -> dict:
    """The top-level properties of an operation's JSON body (empty without one)."""
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    return resolve(spec, content["schema"]).get("properties", {}) if content else {}


def query_parameters(operation) -> list[dict]:
    return [p for p in operation.get("parameters", []) if p.get("in") == "query"]


def send(client, method: str, url: str, headers: dict, **kwargs):
    return client.open(url, method=method.upper(), headers=with_key(headers), **kwargs)


def send_json_text(client, method: str, url: str, headers: dict, text: str):
    return send(
        client, method, url, headers, data=text.encode("utf-8", "surrogatepass"), content_type="application/json"
    )


def assert_refused(response, reason: str) -> dict:
    """422 invalid_request naming the reason, in the one error shape."""
    details = assert_error(response, 422, "invalid_request")
    assert details["reason"] == reason, details
    return details


BAD_TEXTS = {"nul_character": "ab\x00cd", "lone_surrogate": "ab\ud800cd"}


# --- text: NUL and lone surrogates, wherever text enters ------------------------------------------


def test_nul_in_any_path_parameter(app, client, spec, w):
    before = snapshot(app)
    checked = 0
    for path, method, operation in operations(spec):
        parameters = operation.get("parameters", []) + spec["paths"][path].get("parameters", [])
        kinds = {p["name"]: p["schema"]["type"] for p in parameters if p.get("in") == "path"}
        for name in PATH_PARAMETER.findall(path):
            url = fill(path.replace("{" + name + "}", "ab%00cd"), "1")
            response = send(client, method, url, w.auth("admin"))
            if kinds[name] == "integer":  # matches no route
                assert_error(response, 404, "not_found")
                continue
            details = assert_refused(response, "nul_character")
            assert name in details["fields"]["path"], (method, path, details)
            checked += 1
    assert checked > 30
    assert snapshot(app) == before


def test_nul_in_any_query_parameter(app, client, spec, w):
    """(A query string is percent-encoded bytes: undecodable ones become U+FFFD, never a lone surrogate.)"""
    before = snapshot(app)
    checked = 0
    for path, method, operation in operations(spec):
        names = [p["name"] for p in query_parameters(operation) if resolve(spec, p["schema"]).get("type") == "string"]
        for name in [*names, "undeclared"]:
            response = client.open(
                fill(path), method=method.upper(), query_string={name: "ab\x00cd"}, headers=w.auth("admin")
            )
            details = assert_refused(response, "nul_character")
            assert name in details["fields"]["query"], (method, path, details)
            checked += 1
    assert checked > 60
    assert snapshot(app) == before


@pytest.mark.parametrize("reason", sorted(BAD_TEXTS))
def test_bad_text_in_any_json_field_or_key(app, client, spec, w, reason):
    before = snapshot(app)
    checked = 0
    bad = json.dumps(BAD_TEXTS[reason])  # "\u0000" / "\ud800" escapes, as a JSON client sends them
    for path, method, operation in operations(spec):
        properties = body_properties(spec, operation)
        if not properties and "requestBody" not in operation:
            continue
        for name, schema in properties.items():
            if resolve(spec, schema).get("type") == "string":
                response = send_json_text(client, method, fill(path), w.auth("admin"), f'{{"{name}": {bad}}}')
                assert assert_refused(response, reason)["fields"] == {name: [response.json["message"]]}
                checked += 1
        nested = send_json_text(client, method, fill(path), w.auth("admin"), f'{{"a": [{{"b": {bad}}}]}}')
        assert assert_refused(nested, reason)["fields"] == {"a": {"0": {"b": [nested.json["message"]]}}}
        key = send_json_text(client, method, fill(path), w.auth("admin"), f"{{{bad}: 1}}")
        assert_refused(key, reason)
    assert checked > 40
    assert snapshot(app) == before


def test_bad_text_in_a_header(app, client, w):
    before = snapshot(app)
    response = client.get("/api/v1/merchants", headers={**w.auth("admin"), "X-Request-Note": "ab\x00cd"})
    assert "X-Request-Note" in assert_refused(response, "nul_character")["fields"]["headers"]
    assert snapshot(app) == before


@pytest.fixture
def sale(app, client, w):
    """A member and one recorded sale at shop A."""
    from server.extensions import db
    from tests.builders import make_member

    with app.app_context():
        member, card = make_member(points=500)
        db.session.remove()
    token = identify(client, w.a.auth, code=card.card_no)
    response = sell(client, w.a.auth, identification_token=token, amount_fen=1_000)
    assert response.status_code == 201, response.json
    return {"card_no": card.card_no, "member_id": member.id, **response.json["sale"]}


@pytest.mark.parametrize("reason", sorted(BAD_TEXTS))
def test_bad_text_in_otherwise_valid_requests_changes_nothing(app, client, w, sale, reason):
    """The issue's examples: each request is valid but for one text field."""
    bad = BAD_TEXTS[reason]
    token = identify(client, w.a.auth, code=sale["card_no"])
    level = next(iter(w.levels.values()))
    requests = [
        ("post", "/api/v1/sales", w.a.auth, {"identification_token": token, "amount_fen": 500, "client_sale_id": bad}),
        ("post", f"/api/v1/sales/{sale['id']}/refunds", w.a.auth, {"amount_fen": 100, "reason": bad}),
        ("post", "/api/v1/members", w.auth("admin"), {"phone": "13900001111", "display_name": bad}),
        ("post", "/api/v1/merchants", w.auth("admin"), {"name": bad, "trade": "food"}),
        ("patch", f"/api/v1/merchants/{w.a.merchant.id}", w.auth("admin"), {"name": bad}),
        ("patch", f"/api/v1/levels/{level.id}", w.auth("admin"), {"name": bad}),
        ("post", "/api/v1/identify", w.a.auth, {"phone": bad}),
    ]
    before = snapshot(app)
    for method, url, headers, body in requests:
        response = send_json_text(client, method, url, headers, json.dumps(body))
        assert_refused(response, reason)
    for name in ("receipt_no", "terminal_id", "merchant_id"):
        assert_refused(client.get(f"/api/v1/sales?{name}=%00", headers=w.a.auth), "nul_character")
    for url in ("/api/v1/sales/%00", "/api/v1/members/%00", "/api/v1/cards/by-number/%00"):
        assert_refused(client.get(url, headers=w.auth("admin")), "nul_character")
    assert snapshot(app) == before
    # and the same requests without the bad character work
    assert sell(client, w.a.auth, identification_token=token, amount_fen=500, client_sale_id="c-1").status_code == 201


# --- JSON nesting and numbers -------------------------------------------------------------------------


def test_deeply_nested_json_under_the_size_limit(app, client, spec, w):
    before = snapshot(app)
    deep = "[" * 30_000 + "]" * 30_000
    just_too_deep = '{"a": ' + "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH + "}"
    checked = 0
    for path, method, operation in operations(spec):
        if "requestBody" in operation:
            for text in (deep, just_too_deep, '{"a": ' + "[" * 5_000):
                assert_refused(send_json_text(client, method, fill(path), w.auth("admin"), text), "too_deep")
            checked += 1
    assert checked > 20
    assert snapshot(app) == before


def test_integers_beyond_64_bits_in_json(app, client, spec, w):
    before = snapshot(app)
    for path, method, operation in operations(spec):
        if "requestBody" not in operation:
            continue
        for number in (str(INT64_MAX + 1), str(-(2**63) - 1), "9" * 5_000):
            details = assert_refused(
                send_json_text(client, method, fill(path), w.auth("admin"), f'{{"n": {number}}}'),
                "integer_out_of_range",
            )
            assert set(details["fields"]) == {"n"}
        for constant in ("NaN", "Infinity", "-Infinity"):
            assert_refused(
                send_json_text(client, method, fill(path), w.auth("admin"), f'{{"n": {constant}}}'), "invalid_number"
            )
    assert snapshot(app) == before


# a list read by POST (a search that keeps personal data out of the URL) takes its filters in the body
LIST_BODIES = {"post": {"phone": "13800138000"}}


def paginated(spec):
    for path, method, operation in operations(spec):
        names = {p["name"]: p for p in query_parameters(operation)}
        if "page" in names:
            yield path, method, names


def test_pages_are_bounded_so_offsets_fit_the_database(app, client, spec, w):
    before = snapshot(app)
    lists = list(paginated(spec))
    assert len(lists) > 10
    for path, method, params in lists:
        body = LIST_BODIES.get(method)

        page, page_size = resolve(spec, params["page"]["schema"]), resolve(spec, params["page_size"]["schema"])
        assert (page["minimum"], page["maximum"]) == (1, MAX_PAGE), path
        assert page["maximum"] * page_size["maximum"] < INT64_MAX
        for value in (MAX_PAGE + 1, INT64_MAX, INT64_MAX + 1, 10**30, 0, -1):
            response = client.open(
                fill(path), method=method, json=body, query_string={"page": value}, headers=w.auth("admin")
            )
            assert "page" in assert_error(response, 422, "invalid_request")["fields"]["query"], (path, value)
        response = client.open(
            fill(path),
            method=method,
            json=body,
            query_string={"page_size": page_size["maximum"] + 1},
            headers=w.auth("admin"),
        )
        assert "page_size" in assert_error(response, 422, "invalid_request")["fields"]["query"], path
        # the furthest page of the largest pages is an empty page (or the parent is unknown), never a fault
        response = client.open(
            fill(path),
            method=method,
            json=body,
            query_string={"page": MAX_PAGE, "page_size": page_size["maximum"]},
            headers=w.auth("admin"),
        )
        if PATH_PARAMETER.search(path):
            assert response.status_code in {200, 404}, (path, response.get_data(as_text=True))
        else:
            assert (response.status_code, response.json) == (200, []), path
    assert snapshot(app) == before


def test_the_issue_page_example(client, w, sale):
    response = client.get("/api/v1/sales?page=9223372036854775808", headers=w.a.auth)
    assert_error(response, 422, "invalid_request")
    assert client.get("/api/v1/sales?page=1", headers=w.a.auth).json[0]["id"] == sale["id"]


def test_integer_path_parameters_beyond_64_bits_match_nothing(app, client, w):
    before = snapshot(app)
    checked = 0
    for rule in app.url_map.iter_rules():
        names = [name for name, converter in rule._converters.items() if converter.regex == r"\d+"]
        for name in names:
            for value in ("99999999999999999999", str(INT64_MAX + 1), str(INT64_MAX)):
                url = re.sub(r"<[^>]+>", "x", rule.rule.replace(f"<int:{name}>", value))
                method = sorted(rule.methods - {"HEAD", "OPTIONS"})[0]
                assert_error(client.open(url, method=method, headers=w.auth("admin")), 404, "not_found")
                checked += 1
    assert checked >= 3
    assert snapshot(app) == before


def test_over_long_path_segments_match_nothing(client, spec, w):
    for path, method, _ in operations(spec):
        if PATH_PARAMETER.search(path):
            response = client.open(
                fill(path, "x" * (MAX_PATH_SEGMENT + 1)), method=method.upper(), headers=w.auth("admin")
            )
            assert_error(response, 404, "not_found")


# --- 405 with Allow -----------------------------------------------------------------------------------


def test_every_405_says_what_is_allowed(app, client, spec, w):
    adapter = app.url_map.bind("localhost")
    checked = 0
    for path, item in spec["paths"].items():
        url = fill(path)
        documented = {method.upper() for method in item if method in METHODS}
        allowed = set(adapter.allowed_methods(url))  # other routes may share the URL (GET /sales/quote)
        assert documented <= allowed, path
        for method in {"GET", "POST", "PUT", "PATCH", "DELETE"} - allowed:
            response = client.open(url, method=method, headers=w.auth("admin"))
            assert_error(response, 405, "method_not_allowed")
            assert {name.strip() for name in response.headers["Allow"].split(",")} == allowed, path
            checked += 1
    assert checked > 50


# --- every size and count has a documented maximum, enforced --------------------------------------


def unbounded(spec, schema: dict, where: str, in_all_of: bool = False):
    """What in a request schema has no documented bound (strings, integers, arrays, open objects)."""
    schema = resolve(spec, schema)
    for part in schema.get("allOf", []) + schema.get("anyOf", []) + schema.get("oneOf", []):
        if "$ref" not in part and "type" not in part:  # an alternative that only narrows the bounded properties
            continue
        yield from unbounded(spec, part, where, in_all_of=True)
    kind = schema.get("type")
    bounded_format = schema.get("format") in ("date", "date-time")
    if kind == "string" and not ({"maxLength", "enum"} & set(schema) or bounded_format):
        yield f"{where}: string without maxLength"
    if kind == "integer" and not {"minimum", "maximum"} <= set(schema):
        yield f"{where}: integer without minimum and maximum"
    if kind == "array":
        if "maxItems" not in schema:
            yield f"{where}: array without maxItems"
        yield from unbounded(spec, schema.get("items", {}), f"{where}[]")
    for name, item in schema.get("properties", {}).items():
        yield from unbounded(spec, item, f"{where}.{name}")
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict) or (kind == "object" and "properties" not in schema and not in_all_of):
        if "maxProperties" not in schema:
            yield f"{where}: object without maxProperties"
        if isinstance(extra, dict):
            yield from unbounded(spec, extra, f"{where}{{}}")


def test_every_request_size_and_count_has_a_documented_maximum(spec):
    faults = []
    for path, method, operation in operations(spec):
        where = f"{method.upper()} {path}"
        for parameter in operation.get("parameters", []):
            if "schema" in parameter:
                faults += unbounded(spec, parameter["schema"], f"{where} {parameter['in']} {parameter['name']}")
        for content in operation.get("requestBody", {}).get("content", {}).values():
            faults += unbounded(spec, content["schema"], f"{where} body")
    assert not faults, "\n".join(faults)


def test_documented_maxima_are_enforced(app, client, spec, w):
    """One past each documented maximum of a body field or query parameter is refused, naming the field."""
    before = snapshot(app)
    checked = 0
    for path, method, operation in operations(spec):
        url = fill(path)
        for name, schema in body_properties(spec, operation).items():
            schema = resolve(spec, schema)
            if schema.get("type") == "string" and "maxLength" in schema:
                value = "1" * (schema["maxLength"] + 1)
            elif schema.get("type") == "integer" and "maximum" in schema:
                value = schema["maximum"] + 1
            elif "maxProperties" in schema:
                value = {f"k{i}": "v" for i in range(schema["maxProperties"] + 1)}
            else:
                continue
            response = send(client, method, url, w.auth("admin"), json={name: value})
            assert name in assert_error(response, 422, "invalid_request")["fields"], (method, path, name)
            checked += 1
        for parameter in query_parameters(operation):
            schema = resolve(spec, parameter["schema"])
            if schema.get("type") == "string" and "maxLength" in schema:
                value = "1" * (schema["maxLength"] + 1)
            elif schema.get("type") == "integer" and "maximum" in schema:
                value = schema["maximum"] + 1
            else:
                continue
            response = client.open(
                url,
                method=method.upper(),
                json=LIST_BODIES.get(method),
                query_string={parameter["name"]: value},
                headers=w.auth("admin"),
            )
            details = assert_error(response, 422, "invalid_request")
            assert parameter["name"] in details["fields"]["query"], (method, path, parameter["name"])
            checked += 1
    assert checked > 60
    assert snapshot(app) == before


def test_card_batches_are_bounded(app, client, spec, w):
    from server.services.cards import MAX_BATCH

    schema = resolve(
        spec, spec["paths"]["/api/v1/card-batches"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    )
    assert schema["properties"]["count"]["maximum"] == MAX_BATCH <= 100_000
    before = snapshot(app)
    response = client.post("/api/v1/card-batches", json={"count": 200_000}, headers=with_key(w.auth("admin")))
    assert "count" in assert_error(response, 422, "invalid_request")["fields"]
    assert snapshot(app) == before


def test_every_api_blueprint_has_the_project_limits(app):
    api_blueprints = [bp for bp in app.blueprints.values() if isinstance(bp, SmorestBlueprint)]
    assert len(api_blueprints) > 10
    for blueprint in api_blueprints:
        assert isinstance(blueprint, Blueprint), blueprint.name


def test_pagination_header_is_documented_as_json_text(client, spec, w):
    response = client.get("/api/v1/merchants", headers=w.auth("admin"))
    metadata = json.loads(response.headers["X-Pagination"])
    assert metadata["total"] == 2
    for path, method, _ in paginated(spec):
        header = spec["paths"][path][method]["responses"]["200"]["headers"]["X-Pagination"]
        assert "schema" not in header
        assert resolve(spec, header["content"]["application/json"]["schema"])["type"] == "object"


def test_new_valid_requests_still_pass(client, w):
    """The checks refuse only what they name: ordinary text, emoji and Chinese go through."""
    response = client.post(
        "/api/v1/merchants",
        json={"name": "老王川菜馆 🌶️", "trade": "food", "address": "幸福街 1 号\tB 座"},
        headers=with_key(w.auth("admin")),
    )
    assert response.status_code == 201, response.json
    assert response.json["merchant"]["name"] == "老王川菜馆 🌶️"
