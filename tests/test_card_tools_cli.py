"""`alliance-cards` against the real API over HTTP: batches, print files, the card lifecycle, and clear errors."""

from __future__ import annotations

import csv
import json
import socket

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from card_tools.cli import main
from server.extensions import db
from server.models import AuditLog, Card, CardBatch, Level
from server.services import members
from server.services.cards import card_check_code
from tests.builders import ACTOR, make_member, make_world
from tests.hardware.card_tools_helpers import make_alliance, quiet_live_server
from tests.live_server import live_server


@pytest.fixture(scope="module")
def server_url(app):
    with quiet_live_server(app) as url:
        yield url


@pytest.fixture
def alliance(app, server_url):
    return make_alliance(app, server_url)


def _count(app, model, *where) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(model).where(*where))
        db.session.remove()
    return count


def _card(app, card_no: str) -> Card:
    with app.app_context():
        card = db.session.scalar(select(Card).where(Card.card_no == card_no))
        db.session.expunge(card)
        db.session.remove()
    return card


def _member_with_card(app) -> tuple[str, str]:
    with app.app_context():
        member, card = make_member()
        ids = member.id, card.card_no
        db.session.remove()
    return ids


def _spare_card(app) -> str:
    with app.app_context():
        card_no = members.create_cards(ACTOR, 1)[0].card_no
        db.session.remove()
    return card_no


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- batches ---------------------------------------------------------------------------------------


def test_batch_create_prints_the_batch_and_registers_its_cards(alliance):
    result = alliance.cli(
        "batch",
        "create",
        "--count",
        "3",
        "--type",
        "mifare-classic-1k",
        "--level",
        "gold",
        "--name",
        "金卡 2026",
        "--detail",
        "design=gold-v2",
    )
    assert result.exit_code == 0, result.output
    with alliance.app.app_context():
        batch = db.session.scalar(select(CardBatch))
        numbers = db.session.scalars(select(Card.card_no).where(Card.batch_id == batch.id).order_by(Card.card_no)).all()
        gold_id = db.session.scalar(select(Level.id).where(Level.code == "gold"))
        db.session.remove()
    assert result.output == f"已创建批次 (batch created) {batch.id}: 3 张卡 (cards) {numbers[0]} – {numbers[-1]}\n"
    assert (batch.count, batch.name, batch.print_details, batch.state, batch.level_id) == (
        3,
        "金卡 2026",
        {"design": "gold-v2"},
        "created",
        gold_id,
    )

    result = alliance.cli("batch", "create", "--count", "2", "--json")
    assert result.exit_code == 0, result.output
    created = json.loads(result.output)
    assert (created["count"], created["card_type"], created["level_id"], created["progress"]) == (
        2,
        "mifare-classic-1k",
        None,
        {"created": 2},
    )
    assert _count(alliance.app, CardBatch) == 2
    assert _count(alliance.app, Card) == 5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--count", "3", "--level", "platinum"], "[invalid_request] 未知的等级。 (field=level)"),
        (["--count", "3", "--type", "desfire"], "[invalid_request]"),
        (["--count", "200001"], "[invalid_request]"),
    ],
)
def test_batch_create_refused_changes_nothing(alliance, args, message):
    result = alliance.cli("batch", "create", *args)
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert f"服务器拒绝 (the server refused) {message}" in result.stderr
    assert _count(alliance.app, CardBatch) == 0
    assert _count(alliance.app, Card) == 0


def test_batch_create_needs_key_value_details(alliance):
    result = alliance.cli("batch", "create", "--count", "3", "--detail", "no-equals-sign")
    assert result.exit_code == 2
    assert "'no-equals-sign' is not KEY=VALUE" in result.output
    assert _count(alliance.app, CardBatch) == 0


def test_batch_list_and_show(alliance):
    first = alliance.staff.create_batch(2, name="第一批")
    second = alliance.staff.create_batch(1)

    result = alliance.cli("batch", "list", "--json")
    assert result.exit_code == 0, result.output
    assert [item["id"] for item in json.loads(result.output)] == [second["id"], first["id"]]

    result = alliance.cli("batch", "list")
    assert result.exit_code == 0, result.output
    assert result.output.index(second["id"]) < result.output.index(first["id"])
    assert "第一批" in result.output
    assert f"{first['first_card_no']} – {first['last_card_no']}" in result.output

    result = alliance.cli("batch", "show", first["id"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"批次 (batch) {first['id']}  第一批",
        f"  卡号 (numbers): {first['first_card_no']} – {first['last_card_no']} (2)",
        "  状态 (state): 写卡中 (in progress)",
        "  待写卡 (created): 2",
    ]

    result = alliance.cli("batch", "show", "bat_nonexistent")
    assert result.exit_code == 1
    assert "[not_found] 卡批次不存在。 (batch_id=bat_nonexistent)" in result.stderr


def test_batch_list_when_there_is_none(alliance):
    result = alliance.cli("batch", "list")
    assert (result.exit_code, result.output) == (0, "没有卡批次 (no batches yet).\n")


def test_batch_export_csv_and_pdf(app, alliance, tmp_path):
    batch = alliance.staff.create_batch(12)
    numbers = [card["card_no"] for card in alliance.cards(batch["id"])]

    csv_path = tmp_path / "factory.csv"
    result = alliance.cli("batch", "export", batch["id"], "--format", "csv", "--output", str(csv_path))
    assert result.exit_code == 0, result.output
    assert f"已导出 (exported) 12 张卡 (cards) → {csv_path}" in result.stdout
    rows = list(csv.DictReader(csv_path.open(encoding="utf-8")))
    assert [(row["seq"], row["card_no"], row["qr_text"]) for row in rows] == [
        (str(seq), number, number) for seq, number in enumerate(numbers, start=1)
    ]
    with app.app_context():  # the printed check code is the one a member binds the card with
        assert [row["check_code"] for row in rows] == [card_check_code(number) for number in numbers]

    pdf_path = tmp_path / "factory.pdf"
    result = alliance.cli("batch", "export", batch["id"], "--format", "pdf", "-o", str(pdf_path))
    assert result.exit_code == 0, result.output
    assert f"已导出 (exported) 12 张卡 (cards), 2 页 (pages) → {pdf_path}" in result.stdout
    assert pdf_path.read_bytes().startswith(b"%PDF-")


def test_batch_export_reads_every_page_of_cards(alliance, tmp_path, monkeypatch):
    batch = alliance.staff.create_batch(5)
    monkeypatch.setattr("card_tools.client.DEFAULT_PAGE_SIZE", 2)  # 3 pages of cards
    path = tmp_path / "five.csv"
    result = alliance.cli("batch", "export", batch["id"], "--format", "csv", "-o", str(path))
    assert result.exit_code == 0, result.output
    exported = [row["card_no"] for row in csv.DictReader(path.open(encoding="utf-8"))]
    assert exported == [card["card_no"] for card in alliance.cards(batch["id"])]
    assert len(exported) == 5


# --- card lifecycle ------------------------------------------------------------------------------


def test_info_shows_a_card(alliance):
    member_id, card_no = _member_with_card(alliance.app)
    result = alliance.cli("info", card_no)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:3] == [
        f"卡号 (card number): {card_no}",
        "  状态 (status): 已激活 (active)",
        f"  会员 (member): {member_id}",
    ]

    result = alliance.cli("info", card_no, "--json")
    assert json.loads(result.output)["member_id"] == member_id

    result = alliance.cli("info", "8860999999999999")
    assert result.exit_code == 1
    assert "[not_found] 没有这个卡号。 (card_no=8860999999999999)" in result.stderr


def test_freeze_unfreeze_lost_and_their_refusals(alliance):
    _, card_no = _member_with_card(alliance.app)

    result = alliance.cli("freeze", card_no, "--reason", "checking a dispute")
    assert (result.exit_code, result.output) == (0, f"已冻结 (frozen): {card_no} → 已冻结 (frozen)\n")
    assert _card(alliance.app, card_no).status == "frozen"

    audit_rows = _count(alliance.app, AuditLog)
    result = alliance.cli("freeze", card_no)
    assert result.exit_code == 1
    assert "[conflict] “已冻结”状态的卡不能冻结。 (status=frozen)" in result.stderr
    assert _count(alliance.app, AuditLog) == audit_rows  # a refusal changes nothing

    result = alliance.cli("unfreeze", card_no)
    assert (result.exit_code, result.output) == (0, f"已解冻 (unfrozen): {card_no} → 已激活 (active)\n")

    result = alliance.cli("lost", card_no, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["status"] == "lost"
    assert _card(alliance.app, card_no).status == "lost"

    result = alliance.cli("lost", card_no)
    assert result.exit_code == 1
    assert "[conflict] 此卡已是“已挂失”状态。 (status=lost)" in result.stderr


def test_replace_moves_the_member_to_the_new_card(alliance):
    member_id, old_no = _member_with_card(alliance.app)
    new_no = _spare_card(alliance.app)

    result = alliance.cli("replace", old_no, new_no)
    assert result.exit_code == 0, result.output
    assert result.output == f"已补卡 (replaced): {old_no} → {new_no} 已激活 (active), 会员 (member) {member_id}\n"
    old, new = _card(alliance.app, old_no), _card(alliance.app, new_no)
    assert (old.status, old.replaced_by_id, new.status, new.member_id) == ("replaced", new.id, "active", member_id)

    result = alliance.cli("replace", old_no, _spare_card(alliance.app))
    assert result.exit_code == 1
    assert "[conflict]" in result.stderr and "(status=replaced)" in result.stderr

    result = alliance.cli("replace", new_no, "12345")
    assert result.exit_code == 1
    assert "[invalid_request]" in result.stderr
    assert _card(alliance.app, new_no).status == "active"


# --- errors -------------------------------------------------------------------------------------------


def test_a_wrong_token_is_reported_clearly_and_changes_nothing(alliance):
    runner = CliRunner()
    result = runner.invoke(main, ["--server", alliance.url, "--token", "pt_wrong", "batch", "create", "--count", "2"])
    assert result.exit_code == 5
    assert "服务器拒绝 (the server refused) [unauthorized]" in result.stderr
    assert "check --token / ALLIANCE_TOKEN" in result.stderr
    assert _count(alliance.app, CardBatch) == 0


def test_a_role_without_card_rights_is_refused(alliance):
    with alliance.app.app_context():
        from server.services import staff

        user = staff.create_staff_user(ACTOR, "finance-2", "finance")
        token = staff.create_personal_token(ACTOR, user.id, "t").token
        db.session.remove()
    result = CliRunner().invoke(
        main, ["batch", "create", "--count", "2"], env={"ALLIANCE_SERVER": alliance.url, "ALLIANCE_TOKEN": token}
    )
    assert result.exit_code == 5
    assert "[forbidden]" in result.stderr and "your role may not do this" in result.stderr
    assert _count(alliance.app, CardBatch) == 0


def test_a_missing_token_is_a_usage_error():
    result = CliRunner().invoke(main, ["batch", "list"], env={"ALLIANCE_TOKEN": None})
    assert result.exit_code == 2
    assert "缺少个人令牌 (no token)" in result.output


def test_an_unreachable_server_is_reported_clearly():
    url = f"http://127.0.0.1:{_free_port()}"
    result = CliRunner().invoke(main, ["--server", url, "--token", "pt_x", "info", "8860000000000010"])
    assert result.exit_code == 3
    assert result.stderr.startswith(f"无法连接服务器 (cannot reach the server) {url}: Connection refused")


def test_encode_an_unknown_batch_fails_before_touching_a_reader(alliance):
    result = alliance.cli("encode", "--batch", "bat_missing", "--reader", "no such reader")
    assert result.exit_code == 1
    assert "[not_found] 卡批次不存在。" in result.stderr


# --- retries ------------------------------------------------------------------------------------------


class LoseFirstResponse:
    """WSGI middleware: the first POST is processed, but its response is lost (the caller sees a 503)."""

    def __init__(self, app):
        self.app, self.seen, self.lost = app, [], False

    def __call__(self, environ, start_response):
        self.seen.append((environ["REQUEST_METHOD"], environ["PATH_INFO"], environ.get("HTTP_IDEMPOTENCY_KEY")))
        if environ["REQUEST_METHOD"] != "POST" or self.lost:
            return self.app(environ, start_response)
        self.lost = True
        body = b"".join(self.app(environ, lambda status, headers, exc_info=None: None))
        del body
        start_response("503 Service Unavailable", [("Content-Type", "application/json")])
        return [b'{"error": "unavailable", "message": "gateway lost the answer", "status": 503, "details": {}}']


def test_a_lost_response_is_retried_with_the_same_idempotency_key(app):
    with app.app_context():
        token = make_world().staff_tokens["card_issuer"]
        db.session.remove()
    proxy = LoseFirstResponse(app)
    with live_server(proxy) as url:
        result = CliRunner().invoke(main, ["--server", url, "--token", token, "batch", "create", "--count", "4"])
    assert result.exit_code == 0, result.output
    posts = [entry for entry in proxy.seen if entry[0] == "POST"]
    assert len(posts) == 2
    assert posts[0] == posts[1]  # same path, same Idempotency-Key
    assert len(posts[0][2]) == 36  # a UUID, kept across the retry
    assert _count(app, CardBatch) == 1  # done once
    assert _count(app, Card) == 4


def test_a_token_issued_in_the_console_runs_the_tool_and_makes_a_printed_batch(app, alliance):
    """No create-admin: a card issuer's own token from the console's API tokens page (shown once) is the
    tool's ALLIANCE_TOKEN; a printed batch needs no encoding and refuses the encoder."""
    import re

    from tests.console.support import PASSWORD, post_form, sign_in

    with app.app_context():
        from server.services import staff

        staff.create_staff_user(ACTOR, "desk-issuer", "card_issuer", PASSWORD)
        db.session.remove()
    console = app.test_client()
    assert sign_in(console, "desk-issuer").status_code == 302
    issued = post_form(console, "/console/tokens", "/console/tokens", {"name": "写卡台", "valid_days": "90"})
    token = re.search(r"pt_[\w-]{20,}", issued.get_data(as_text=True)).group(0)
    env = {"ALLIANCE_SERVER": alliance.url, "ALLIANCE_TOKEN": token}
    result = CliRunner().invoke(main, ["batch", "create", "--count", "4", "--kind", "printed", "--json"], env=env)
    assert result.exit_code == 0, result.output
    batch = json.loads(result.output)
    assert (batch["kind"], batch["progress"]) == ("printed", {"issued": 4})
    result = CliRunner().invoke(main, ["encode", "--batch", batch["id"]], env=env)
    assert result.exit_code == 0 and "已全部写卡" in result.output  # nothing to encode
