"""The `alliance-server` CLI (server.cli.main), run through Flask's CLI runner on the test app."""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from server.cli import main
from server.extensions import db
from server.models import AllianceSettings, AuditLog, Card, Level, Member, Merchant, StaffUser, Terminal
from server.models.base import utcnow
from server.security.credentials import verify_password
from server.services import catalog, checkout
from server.services.demo import DEMO_MEMBERS, DEMO_MERCHANTS
from server.services.staff import terminal_for_token
from tests.builders import ACTOR, make_member, make_world

PERSONAL_TOKEN = re.compile(r"\bpt_[A-Za-z0-9_-]{43}\b")
TERMINAL_TOKEN = re.compile(r"^令牌：(tt_[A-Za-z0-9_-]{43})$", re.MULTILINE)


@pytest.fixture
def run(app):
    """Invoke the CLI against the test app: ``run("merchant", "create", ...)``."""
    runner = app.test_cli_runner()

    def invoke(*args):
        result = runner.invoke(main, list(args))
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    return invoke


def counts(app) -> dict:
    with app.app_context():
        result = {
            model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (StaffUser, Merchant, Terminal, Member, Card, AllianceSettings)
        }
        db.session.remove()
        return result


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_seed_demo_json(app, run):
    result = run("seed-demo", "--json")
    assert result.exit_code == 0, result.output
    creds = json.loads(result.output)
    assert set(creds) == {"admin", "merchants", "members"}
    admin = creds["admin"]
    assert admin["username"] == "admin"
    assert len(admin["password"]) >= 12
    assert PERSONAL_TOKEN.fullmatch(admin["token"])
    assert [m["name"] for m in creds["merchants"]] == [spec["name"] for spec in DEMO_MERCHANTS]
    assert [(m["phone"], m["name"]) for m in creds["members"]] == DEMO_MEMBERS
    assert len({m["card_no"] for m in creds["members"]}) == len(DEMO_MEMBERS)

    client = app.test_client()
    for merchant in creds["merchants"]:
        who = client.get("/api/v1/terminal", headers=bearer(merchant["terminal_token"]))
        assert who.status_code == 200, who.json
        assert who.json["merchant"] == {**who.json["merchant"], "id": merchant["id"], "name": merchant["name"]}
        assert who.json["terminal"]["id"] == merchant["terminal_id"]
    assert client.get("/api/v1/terminal", headers=bearer("tt_" + "x" * 43)).status_code == 401
    assert client.get("/api/v1/merchants", headers=bearer(admin["token"])).status_code == 200

    # the printed phone and card number identify the same member at a terminal
    member = creds["members"][0]
    token = creds["merchants"][0]["terminal_token"]
    by_card = client.post("/api/v1/identify", json={"code": member["card_no"]}, headers=bearer(token))
    by_phone = client.post("/api/v1/identify", json={"phone": member["phone"]}, headers=bearer(token))
    assert by_card.status_code == by_phone.status_code == 200
    assert by_card.json["member"]["id"] == by_phone.json["member"]["id"] == member["id"]

    with app.app_context():
        stored_admin = db.session.scalar(select(StaffUser).where(StaffUser.username == "admin"))
        assert stored_admin.role == "admin"
        assert verify_password(stored_admin.password_hash, admin["password"])
        assert admin["password"] not in stored_admin.password_hash
        db.session.remove()


def test_seed_demo_twice_creates_nothing(app, run):
    assert run("seed-demo", "--json").exit_code == 0
    before = counts(app)
    again = run("seed-demo", "--json")
    assert again.exit_code != 0
    assert again.output.strip() == "错误：数据库里已有联盟，未创建任何数据。"
    assert counts(app) == before


def test_seed_demo_prints_tables_for_people(app, run):
    result = run("seed-demo")
    assert result.exit_code == 0, result.output
    assert "运营管理员" in result.output
    tokens = re.findall(r"终端令牌：(tt_[A-Za-z0-9_-]{43})", result.output)
    assert len(tokens) == len(DEMO_MERCHANTS)
    assert app.test_client().get("/api/v1/terminal", headers=bearer(tokens[0])).status_code == 200
    for phone, _ in DEMO_MEMBERS:
        assert phone in result.output


def test_create_admin(app, run):
    result = run("create-admin", "ops-lead", "--password", "correct horse battery")
    assert result.exit_code == 0, result.output
    assert "管理员 ops-lead 已创建" in result.output
    tokens = PERSONAL_TOKEN.findall(result.output)
    assert len(tokens) == 1, result.output
    response = app.test_client().get("/api/v1/merchants", headers=bearer(tokens[0]))
    assert response.status_code == 200, response.json
    with app.app_context():
        user = db.session.scalar(select(StaffUser).where(StaffUser.username == "ops-lead"))
        assert (user.role, user.merchant_id) == ("admin", None)
        assert user.id in result.output
        assert verify_password(user.password_hash, "correct horse battery")
        assert db.session.get(AllianceSettings, 1) is not None  # created with the first admin
        db.session.remove()


def test_create_admin_refusals_are_clean_errors(app, run):
    assert run("create-admin", "ops-lead", "--password", "correct horse battery").exit_code == 0
    before = counts(app)
    taken = run("create-admin", "ops-lead", "--password", "another long password")
    assert taken.exit_code == 1
    assert "错误：conflict" in taken.output and "用户名" in taken.output
    short = run("create-admin", "someone", "--password", "short")
    assert short.exit_code == 1
    assert "错误：invalid_request" in short.output and "10 个字符" in short.output
    assert "Traceback" not in taken.output + short.output
    assert counts(app) == before


def test_merchant_create(app, run):
    result = run(
        "merchant",
        "create",
        "--name",
        "老李面馆",
        "--trade",
        "food",
        "--region",
        "幸福街",
        "--earn-rate-bp",
        "150",
        "--max-redeem-bp",
        "2500",
    )
    assert result.exit_code == 0, result.output
    match = re.search(r"商户 老李面馆 已创建：(mer_[A-Za-z0-9_-]+)", result.output)
    assert match, result.output
    with app.app_context():
        merchant = db.session.get(Merchant, match.group(1))
        assert (merchant.name, merchant.trade, merchant.region, merchant.earn_rate_bp, merchant.max_redeem_bp) == (
            "老李面馆",
            "food",
            "幸福街",
            150,
            2_500,
        )
        db.session.remove()


def test_merchant_create_with_unknown_trade(app, run):
    result = run("merchant", "create", "--name", "X", "--trade", "casino")
    assert result.exit_code == 1
    assert "invalid_request" in result.output and "未知的行业" in result.output
    assert counts(app)["Merchant"] == 0


def test_terminal_create_prints_a_working_token(app, run):
    assert run("create-admin", "root", "--password", "correct horse battery").exit_code == 0
    merchant_id = re.search(
        r"已创建：(mer_\S+)", run("merchant", "create", "--name", "鲜花店", "--trade", "retail").output
    ).group(1)
    result = run("terminal", "create", "--merchant", merchant_id, "--name", "前台 2 号")
    assert result.exit_code == 0, result.output
    assert re.search(r"终端 trm_\S+（T01）已创建", result.output), result.output
    token = TERMINAL_TOKEN.search(result.output).group(1)
    who = app.test_client().get("/api/v1/terminal", headers=bearer(token))
    assert who.status_code == 200, who.json
    assert who.json["merchant"]["id"] == merchant_id
    assert who.json["terminal"]["name"] == "前台 2 号"
    # the token is shown, never stored in clear
    with app.app_context():
        stored = db.session.get(Terminal, who.json["terminal"]["id"])
        assert stored.token_hash != token and token not in stored.token_hash
        db.session.remove()
    second = run("terminal", "create", "--merchant", merchant_id)
    assert "（T02）" in second.output
    assert TERMINAL_TOKEN.search(second.output).group(1) != token


def test_terminal_create_for_unknown_merchant(app, run):
    result = run("terminal", "create", "--merchant", "mer_nobody")
    assert result.exit_code == 1
    assert "not_found" in result.output
    assert counts(app)["Terminal"] == 0


def test_levels_evaluate(app, run):
    with app.app_context():
        world = make_world()
        climber, card = make_member()
        make_member(with_card=False)
        terminal = terminal_for_token(world.shop_a.token)
        found = checkout.identify(terminal, code=card.card_no)
        checkout.record_sale(terminal, identification_token=found.token, amount_fen=60_000)
        catalog.update_level(ACTOR, world.levels["silver"].id, upgrade_spend_fen=50_000, keep_spend_fen=40_000)
        db.session.remove()
    result = run("levels", "evaluate")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "升级 1 人，降级 0 人，保持 1 人"
    with app.app_context():
        member = db.session.get(Member, climber.id)
        assert db.session.get(Level, member.level_id).code == "silver"
        assert utcnow() - member.level_since < timedelta(minutes=5)
        audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "member.level_change"))
        assert (audit.actor, audit.object_id) == ("system:cli", climber.id)
        db.session.remove()
    assert run("--lang", "en", "levels", "evaluate").output.strip() == "upgraded 0, downgraded 0, kept 2"


def test_help_lists_the_commands(run):
    result = run("--help")
    assert result.exit_code == 0
    for command in ("seed-demo", "create-admin", "merchant", "terminal", "levels", "db"):
        assert command in result.output


def test_purge_idempotency_keys_deletes_only_expired_records(app, run):
    from server.models import IdempotencyRecord

    with app.app_context():
        for key, age_days in (("old", 9), ("recent", 6)):
            db.session.add(
                IdempotencyRecord(
                    actor="terminal:t",
                    key=key,
                    request_hash="h",
                    status_code=201,
                    response_body={},
                    created_at=utcnow() - timedelta(days=age_days),
                )
            )
        db.session.commit()
    result = run("purge-idempotency-keys")
    assert result.exit_code == 0, result.output
    assert "已删除 1 条超过 8 天的幂等记录" in result.output
    with app.app_context():
        assert db.session.scalars(select(IdempotencyRecord.key)).all() == ["recent"]


def test_sms_outbox_shows_codes_masked_and_only_the_development_log_has_them(app, run, caplog, monkeypatch):
    from server.cli import console
    from server.services import member_login

    monkeypatch.setattr(console, "width", 200)  # one table row per message

    with app.app_context():
        make_world()
        member_login.request_login_code("13812345678")
        db.session.remove()
    queued = run("sms", "outbox")
    assert queued.exit_code == 0, queued.output
    assert "138****5678" in queued.output and "******" in queued.output and "待发送" in queued.output
    assert "13812345678" not in queued.output
    with caplog.at_level(logging.INFO, logger="server.notifications.sms"):
        assert "已发送 1 条短信" in run("sms", "dispatch").output
    code = re.search(r"验证码是(\d{6})", caplog.text).group(1)  # the developer's console shows it, phone masked
    assert "138****5678" in caplog.text and "13812345678" not in caplog.text
    sent = run("sms", "outbox").output
    assert "已发送" in sent and "******" in sent and code not in sent
