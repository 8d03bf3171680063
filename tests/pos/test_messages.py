"""Every stable error code the server can answer with has the POS's own Chinese and English text."""

from __future__ import annotations

import ast
from pathlib import Path

from pos_client.messages import MESSAGES, SERVER_ERRORS, ServerRefused, server_error_text
from server.api.base import HTTP_ERROR_CODES

SERVER = Path(__file__).resolve().parents[2] / "server"
SHARED = SERVER.parent / "alliance_shared"  # the shared rules' refusals are server error codes too


def server_error_codes() -> set[str]:
    """The codes in the server's (and the shared rules') source: DomainError subclasses' ``code``, HTTP errors,
    direct error responses."""
    codes = set(HTTP_ERROR_CODES.values()) | {"internal_error", "error"}  # server/api/base.py's fallbacks
    for path in [*SERVER.rglob("*.py"), *SHARED.rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef):
                for statement in node.body:
                    codes |= _class_code(statement)
            elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "error_response":
                first = node.args[0] if node.args else None
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    codes.add(first.value)
    return codes


def _class_code(statement: ast.stmt) -> set[str]:
    # `code = "x"` or `code, status, default_message = "x", 409, "..."`
    if not isinstance(statement, ast.Assign) or len(statement.targets) != 1:
        return set()
    target, value = statement.targets[0], statement.value
    if isinstance(target, ast.Name) and target.id == "code" and isinstance(value, ast.Constant):
        return {value.value}
    if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple):
        names = [getattr(element, "id", None) for element in target.elts]
        if "code" in names and isinstance(value.elts[names.index("code")], ast.Constant):
            return {value.elts[names.index("code")].value}
    return set()


def test_the_collector_finds_the_codes_the_pos_meets_every_day():
    codes = server_error_codes()
    assert {"code_used", "card_blocked", "insufficient_points", "idempotency_key_reused", "rate_limited"} <= codes
    from server.domain.errors import DomainError

    def subclasses(cls):
        return {cls.code} | {code for sub in cls.__subclasses__() for code in subclasses(sub)}

    assert subclasses(DomainError) <= codes  # every error class imported so far is seen by the source scan


def test_every_server_error_code_has_the_pos_own_text_in_both_languages():
    missing = sorted(server_error_codes() - SERVER_ERRORS.keys())
    assert missing == [], f"add these server error codes to pos_client/messages.py SERVER_ERRORS: {missing}"
    for code, (zh, en) in SERVER_ERRORS.items():
        assert zh and en and zh != en, code
        assert any("\u4e00" <= char <= "\u9fff" for char in zh), code


def test_the_pos_shows_its_own_words_not_the_servers_message():
    refused = ServerRefused("card_check_failed", "The card number and check code do not match.")
    assert str(refused) == "卡号与校验码不符" and refused.text("en") == "The card number and check code do not match"
    # only a code this POS does not know yet falls back to the server's message, with the code
    assert server_error_text("new_rule", "服务器的说明") == "服务器拒绝：服务器的说明（new_rule）"


def test_every_pos_message_exists_in_both_languages_with_the_same_placeholders():
    import string

    for key, (zh, en) in MESSAGES.items():
        fields = [{name for _, name, _, _ in string.Formatter().parse(text) if name} for text in (zh, en)]
        assert fields[0] == fields[1], key
