"""The API's error messages in the request's language (issue 11 item 10): Chinese by default, English with
``Accept-Language: en`` or ``?lang=en``; domain errors and marshmallow's field messages alike."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from marshmallow import Schema, fields, validate

from server.error_text import CATALOG, translate
from tests.live_server import assert_error, scene

SERVER = Path(__file__).resolve().parents[2] / "server"
SHARED = SERVER.parent / "alliance_shared"  # the shared pricing rule raises the server's domain errors
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def catalog() -> dict[str, str]:
    with CATALOG.open("rb") as po_file:
        return {message.id: message.string for message in read_po(po_file) if message.id}


def _domain_error_names(trees) -> set[str]:
    bases = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases[node.name] = {getattr(base, "id", getattr(base, "attr", "")) for base in node.bases}

    def is_domain(name: str, seen: frozenset = frozenset()) -> bool:
        return name == "DomainError" or any(
            is_domain(base, seen | {name}) for base in bases.get(name, ()) if base not in seen
        )

    return {name for name in bases if is_domain(name)}


def _template(node: ast.expr, where: str, problems: list[str]) -> str | None:
    """The catalog msgid a message expression produces: a literal, or an f-string with {name} placeholders."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        text = ""
        for part in node.values:
            if isinstance(part, ast.Constant):
                text += part.value
            elif isinstance(part.value, ast.Name | ast.Attribute) and part.format_spec is None:
                text += "{" + getattr(part.value, "id", getattr(part.value, "attr", "")) + "}"
            else:
                problems.append(f"{where}: put the value in a variable so the message is a catalog template")
                return None
        return text
    return None  # a message passed through from elsewhere (e.g. str(exc)): not a text of this code base


def messages_in_source() -> dict[str, str]:
    """Every DomainError message (default and raised) in server/ and alliance_shared/, and every schema message
    in server/api."""
    paths = sorted([*SERVER.rglob("*.py"), *SHARED.rglob("*.py")])
    trees = {path: ast.parse(path.read_text()) for path in paths}
    errors = _domain_error_names(trees.values())
    found, problems = {}, []
    for path, tree in trees.items():
        in_api = path.is_relative_to(SERVER / "api")
        for node in ast.walk(tree):
            where = f"{path.relative_to(SERVER.parent)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.ClassDef) and node.name in errors:
                for statement in node.body:
                    if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Tuple):
                        if isinstance(statement.targets[0], ast.Tuple):  # code, status, default_message = ...
                            found[_template(statement.value.elts[-1], where, problems)] = where
                    elif isinstance(statement, ast.Assign) and statement.targets[0].id == "default_message":
                        found[_template(statement.value, where, problems)] = where
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", getattr(node.func, "attr", None))
                if name in errors or (in_api and name == "ValidationError"):
                    message = node.args[0] if node.args else None
                    message = next((k.value for k in node.keywords if k.arg == "message"), message)
                    if message is not None:
                        found[_template(message, where, problems)] = where
                if in_api:  # validators' own messages: validate.Regexp(..., error="...")
                    for keyword in node.keywords:
                        if keyword.arg == "error":
                            found[_template(keyword.value, where, problems)] = where
    assert not problems, problems
    found.pop(None, None)
    return found


def test_every_domain_error_and_schema_message_in_server_has_a_chinese_translation():
    translations = catalog()
    used = messages_in_source()
    assert len(used) > 80  # the collector does find them
    missing = {message: where for message, where in used.items() if not translations.get(message)}
    assert not missing, f"add these to {CATALOG}: {missing}"
    for message in used:
        assert set(_PLACEHOLDER.findall(translations[message])) == set(_PLACEHOLDER.findall(message)), message


def standard_marshmallow_messages() -> set[str]:
    """marshmallow's own messages as the API can produce them (templates as the catalog holds them)."""
    messages = set(Schema._default_error_messages.values())
    for _, field in inspect.getmembers(fields, inspect.isclass):
        if issubclass(field, fields.Field) and field.__module__.startswith("marshmallow"):
            for cls in field.__mro__:
                messages.update(getattr(cls, "default_error_messages", {}).values())
    concrete = {  # templates filled by marshmallow itself before any value is known
        "Not a valid {obj_type}.": ["Not a valid datetime.", "Not a valid date.", "Not a valid time."],
        "Not a valid {awareness} {obj_type}.": ["Not a valid aware datetime.", "Not a valid naive datetime."],
    }
    for template, filled in concrete.items():
        messages.discard(template)
        messages.update(filled)
    messages = {m for m in messages if "{input" not in m and "IP" not in m}  # formats we never parse
    length = validate.Length
    messages |= {length.message_min, length.message_max, length.message_all, length.message_equal}
    messages |= {validate.OneOf.default_message, validate.Regexp.default_message, validate.Equal.default_message}
    ops = validate.Range
    for low, high in ((ops.message_gte, ops.message_lte), (ops.message_gt, ops.message_lt)):
        messages.add(ops.message_all.format(min_op=low, max_op=high))
        messages.add(ops.message_min.format(min_op=low))
        messages.add(ops.message_max.format(max_op=high))
    return messages


def test_marshmallow_standard_messages_are_all_in_the_catalog():
    translations = catalog()
    missing = sorted(m for m in standard_marshmallow_messages() if not translations.get(m))
    assert not missing


QUOTE = "/api/v1/sales/quote"
BAD_QUOTE = {"amount_fen": "12", "redeem_points": -1, "extra": 1, "identification_token": "x" * 201}


def test_field_errors_come_back_in_chinese_by_default_and_in_english_on_request(app, client):
    s = scene(app)
    chinese = assert_error(client.post(QUOTE, json=BAD_QUOTE, headers=s.auth), 422, "invalid_request")
    assert chinese["message"] == "请求无效。"
    assert chinese["details"] == {
        "fields": {
            "amount_fen": ["不是有效的整数。"],
            "redeem_points": ["须大于等于 0 且小于等于 1000000000。"],
            "extra": ["未知字段。"],
            "identification_token": ["长度须在 1 到 200 之间。"],
        }
    }
    missing = assert_error(client.post(QUOTE, json={"amount_fen": 100}, headers=s.auth), 422, "invalid_request")
    assert missing["details"] == {"fields": {"identification_token": ["必填字段缺失。"]}}

    english = client.post(QUOTE, json=BAD_QUOTE, headers={**s.auth, "Accept-Language": "en-GB,en;q=0.9"}).json
    assert english["message"] == "The request is not valid."
    assert english["details"]["fields"]["amount_fen"] == ["Not a valid integer."]
    assert english["details"]["fields"]["identification_token"] == ["Length must be between 1 and 200."]
    by_query = client.post(f"{QUOTE}?lang=en", json=BAD_QUOTE, headers=s.auth).json
    assert by_query["details"]["fields"]["extra"] == ["Unknown field."]


@pytest.mark.parametrize(
    ("accept", "message"),
    [
        (None, "不是有效的中国大陆手机号。"),
        ("zh-CN,zh;q=0.9", "不是有效的中国大陆手机号。"),
        ("fr-FR", "不是有效的中国大陆手机号。"),
        ("en", "Not a valid mainland China mobile number."),
        ("en-US,en;q=0.9,zh;q=0.5", "Not a valid mainland China mobile number."),
        ("zh;q=0.9,en;q=0.8", "不是有效的中国大陆手机号。"),
    ],
)
def test_domain_errors_follow_accept_language_with_chinese_by_default(app, client, accept, message):
    s = scene(app)
    headers = {**s.auth, **({"Accept-Language": accept} if accept else {})}
    response = client.post("/api/v1/identify", json={"phone": "12345"}, headers=headers)
    assert response.status_code == 422 and response.json["message"] == message
    assert response.json["details"] == {"field": "phone"}  # machine-readable details stay as they are


def test_a_message_built_from_a_template_is_translated_with_its_values(app):
    with app.test_request_context("/api/v1/cards"):
        assert translate("A batch holds 1 to 200000 cards.") == "一个批次可有 1 到 200000 张卡。"
        assert translate("Give exactly one of: card, code, phone.") == "请且只能提供以下其中一项：card, code, phone。"
        assert translate("Longer than maximum length 64.") == "超过最大长度 64。"
        assert translate("Some message nobody translated.") == "Some message nobody translated."
    with app.test_request_context("/api/v1/cards", headers={"Accept-Language": "en"}):
        assert translate("A batch holds 1 to 200000 cards.") == "A batch holds 1 to 200000 cards."
    with app.test_request_context("/console/cards", headers={"Accept-Language": "en"}):  # pages: Chinese by default
        assert translate("No such card.") == "卡不存在。"
