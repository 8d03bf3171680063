"""Benefit distribution: gifts, points exchange, campaigns, batch grants, partners, expiry reminders (service level)."""

from __future__ import annotations

import json
import time
from datetime import date, timedelta

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from server.domain.benefit_channels import partner_signature
from server.domain.errors import (
    BenefitBudgetExhausted,
    BenefitNotEligible,
    Conflict,
    InsufficientPoints,
    NotFound,
    PartnerSignatureInvalid,
)
from server.extensions import db
from server.models import BenefitCode, BenefitGrant, SmsMessage
from server.models.base import utcnow
from server.services import benefit_grants, checkout, jobs, members
from server.services.alliance import get_settings
from server.services.members import points_balance
from server.services.points import alliance_today
from server.services.staff import terminal_for_token
from tests.benefits.helpers import MANAGER, vouchers
from tests.builders import ACTOR, make_member, make_world


def grants(**where) -> list[BenefitGrant]:
    query = select(BenefitGrant)
    for name, value in where.items():
        query = query.where(getattr(BenefitGrant, name) == value)
    return list(db.session.scalars(query))


def test_gifts_at_registration_level_up_and_birthday_are_given_once_and_never_block_what_triggered_them(ctx):
    world = make_world()
    welcome, birthday = vouchers("WELCOME", quantity=2), vouchers("BIRTHDAY", quantity=3)
    benefit_grants.set_gift_settings(
        "staff:t", registration_sku_id=welcome.id, level_up_sku_id=welcome.id, birthday_sku_id=birthday.id
    )
    first, _ = make_member(with_card=False)
    assert [(g.channel, g.source_id) for g in grants(member_id=first.id)] == [("registration", first.id)]
    code = db.session.get(BenefitCode, grants(member_id=first.id)[0].code_id)
    assert code.status == "issued" and code.member_id == first.id
    buyer, card = make_member()  # takes the last WELCOME code
    third, _ = make_member(with_card=False)  # out of stock: registered all the same, no gift
    assert db.session.get(type(third), third.id) is not None and grants(member_id=third.id) == []
    benefit_grants.set_gift_settings(
        "staff:t", registration_sku_id=None, level_up_sku_id=birthday.id, birthday_sku_id=birthday.id
    )
    terminal = terminal_for_token(world.shop_a.token)
    found = checkout.identify(terminal, code=card.card_no)
    sale = checkout.record_sale(terminal, identification_token=found.token, amount_fen=100_000)  # up to silver
    assert sale.level.code == "silver"
    assert [g.source_id for g in grants(channel="level_up")] == [f"{buyer.id}:silver"]
    assert benefit_grants.level_up_gift(buyer.id, "silver").id == grants(channel="level_up")[0].id  # once

    benefit_grants.set_birthday("staff:t", first.id, "03-15")
    for _ in range(2):  # the job re-run on the same day gives nothing twice
        jobs.run_job("birthday-gifts", date(2027, 3, 15))
    assert [g.source_id for g in grants(channel="birthday")] == [f"{first.id}:2027"]
    jobs.run_job("birthday-gifts", date(2028, 3, 15))
    assert len(grants(channel="birthday")) == 2

    assert benefit_grants.level_up_gift(third.id, "gold") is None  # no stock left: skipped, nothing raised


def test_points_buy_a_voucher_once_per_request_and_never_a_cash_like_benefit_without_the_licence(ctx):
    make_world()
    voucher = vouchers("PTS-VOUCHER", points_price=300)
    cash = vouchers("PTS-CASH", kind="voucher_cash", points_price=500)
    member, _ = make_member(points=1_000, with_card=False)
    assert [sku.code for sku in benefit_grants.exchange_offers()] == ["PTS-VOUCHER"]
    with pytest.raises(Conflict):
        benefit_grants.exchange_points(member.id, cash.id, "r-1")
    first = benefit_grants.exchange_points(member.id, voucher.id, "r-2")
    again = benefit_grants.exchange_points(member.id, voucher.id, "r-2")  # a retry: the same grant
    assert again.id == first.id and first.points_spent == 300
    assert points_balance(members.get_member(member.id)) == 700
    benefit_grants.set_gift_settings(
        "staff:t", registration_sku_id=None, level_up_sku_id=None, birthday_sku_id=None, cash_like_licensed=True
    )
    benefit_grants.exchange_points(member.id, cash.id, "r-3")
    assert points_balance(members.get_member(member.id)) == 200
    with pytest.raises(InsufficientPoints):
        benefit_grants.exchange_points(member.id, voucher.id, "r-4")
    assert len(grants(member_id=member.id)) == 2


def test_a_campaign_checks_window_eligibility_per_member_limit_and_total_budget(ctx):
    world = make_world()
    sku = vouchers("CAMP", quantity=10)
    now = utcnow()
    campaign = benefit_grants.create_campaign(
        MANAGER,
        code="SPRING",
        name="春季活动",
        sku_id=sku.id,
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(days=1),
        total_budget=3,
        per_member_limit=2,
        min_level_rank=world.levels["silver"].rank,
    )
    low, _ = make_member(with_card=False)
    with pytest.raises(NotFound):  # a draft is not claimable
        benefit_grants.claim(low.id, campaign.id)
    benefit_grants.set_campaign_status(MANAGER, campaign.id, "active")
    with pytest.raises(BenefitNotEligible):  # silver and above only
        benefit_grants.claim(low.id, campaign.id)
    campaign.min_level_rank = None
    db.session.commit()
    a, b = make_member(with_card=False)[0], make_member(with_card=False)[0]
    benefit_grants.claim(a.id, campaign.id)
    benefit_grants.claim(a.id, campaign.id)
    with pytest.raises(BenefitNotEligible):
        benefit_grants.claim(a.id, campaign.id)  # two per member
    benefit_grants.claim(b.id, campaign.id)
    with pytest.raises(BenefitBudgetExhausted):
        benefit_grants.claim(low.id, campaign.id)  # the budget of 3 is spent
    assert benefit_grants.get_campaign(campaign.id).remaining == 0
    assert len(grants(campaign_id=campaign.id)) == 3
    with pytest.raises(BenefitNotEligible):
        benefit_grants.claim(b.id, campaign.id, now=now + timedelta(days=2))  # after the window


def test_a_pushed_campaign_serves_each_eligible_member_once_within_its_budget(ctx):
    world = make_world()
    sku = vouchers("PUSH", quantity=10)
    now = utcnow()
    campaign = benefit_grants.create_campaign(
        MANAGER,
        code="PUSHED",
        name="推送活动",
        sku_id=sku.id,
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(days=1),
        total_budget=3,
        min_level_rank=world.levels["silver"].rank,
    )
    with pytest.raises(Conflict):  # a draft is not pushed
        benefit_grants.push_campaign(MANAGER, campaign.id)
    benefit_grants.set_campaign_status(MANAGER, campaign.id, "active")

    def member_of(level: str):
        member = make_member(with_card=False)[0]
        member.level_id = world.levels[level].id
        db.session.commit()
        return member

    make_member(with_card=False)  # below silver: not eligible
    silver = [member_of("silver") for _ in range(3)]
    benefit_grants.claim(silver[0].id, campaign.id)  # one claimed it already
    counts = benefit_grants.push_campaign(MANAGER, campaign.id)
    assert (counts["pushed"], counts["already"], counts["not_eligible"], counts["stopped"]) == (2, 1, 1, None)
    assert sorted(grant.member_id for grant in grants(campaign_id=campaign.id)) == sorted(m.id for m in silver)
    gold = member_of("gold")
    again = benefit_grants.push_campaign(MANAGER, campaign.id)  # the budget of 3 is spent: the rest wait
    assert (again["pushed"], again["already"], again["stopped"]) == (0, 3, "benefit_budget_exhausted")
    assert gold.id not in {grant.member_id for grant in grants(campaign_id=campaign.id)}
    db.session.expire_all()
    assert benefit_grants.get_campaign(campaign.id).remaining == 0


def _xlsx(rows) -> bytes:
    import io

    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_batch_grant_reports_in_a_dry_run_then_grants_once_even_when_the_file_comes_twice(ctx):
    make_world()
    sku = vouchers("BATCH", quantity=5)
    a, b = make_member(with_card=False)[0], make_member(with_card=False)[0]
    phone_a, phone_b = members.reveal_phone(ACTOR, a.id), members.reveal_phone(ACTOR, b.id)
    data = f"手机号,备注\n{phone_a},老客\n{phone_b},\n{phone_a},重复\n13800000000,\nabc,\n".encode()
    dry = benefit_grants.grant_batch(MANAGER, sku.id, "list.csv", data, dry_run=True)
    assert (dry["to_grant"], dry["skipped"], dry["granted"]) == (2, 3, 0)
    assert [row["reason"] for row in dry["rows"]] == ["", "", "duplicate", "not_a_member", "bad_phone"]
    assert grants() == []
    done = benefit_grants.grant_batch(MANAGER, sku.id, "list.csv", data)
    assert done["granted"] == 2 and done["batch_id"]
    again = benefit_grants.grant_batch(MANAGER, sku.id, "list.csv", data)
    assert again["batch_id"] == done["batch_id"] and len(grants(channel="batch")) == 2
    listed = benefit_grants.read_member_list("list.xlsx", _xlsx([["phone"], [phone_b], [None]]))
    assert listed == [(2, phone_b)]
    more = [[members.reveal_phone(ACTOR, make_member(with_card=False)[0].id)] for _ in range(4)]
    with pytest.raises(Conflict):  # 4 to grant, 3 left: nothing granted
        benefit_grants.grant_batch(MANAGER, sku.id, "more.xlsx", _xlsx([["phone"], *more]))
    assert len(grants(channel="batch")) == 2


def _signed(partner_key, secret, body: dict, nonce: str, timestamp: int | None = None):
    raw = json.dumps(body).encode()
    stamp = str(timestamp or int(time.time()))
    signature = partner_signature(secret, "POST", "/api/v1/partner/benefit-grants", stamp, nonce, raw)
    headers = {"key_id": partner_key, "timestamp": stamp, "nonce": nonce, "signature": signature}
    return headers, raw


def test_a_partner_grant_needs_a_fresh_signature_and_is_idempotent_on_the_request_id(ctx):
    make_world()
    sku = vouchers("PARTNER", quantity=5)
    partner, secret = benefit_grants.create_partner(MANAGER, "银行合作方", [sku.id])
    member, _ = make_member(with_card=False)
    body = {"request_id": "bank-0001", "phone": members.reveal_phone(ACTOR, member.id), "sku_id": sku.id}
    path = "/api/v1/partner/benefit-grants"
    headers, raw = _signed(partner.key_id, secret, body, "nonce-000001")
    first = benefit_grants.partner_grant(headers, "POST", path, raw, body)
    with pytest.raises(PartnerSignatureInvalid):  # the same nonce again: a replay
        benefit_grants.partner_grant(headers, "POST", path, raw, body)
    headers, raw = _signed(partner.key_id, secret, body, "nonce-000002")
    again = benefit_grants.partner_grant(headers, "POST", path, raw, body)
    assert again["grant_id"] == first["grant_id"]  # the same request id: the same grant
    bad, raw = _signed(partner.key_id, "wrong-secret", body, "nonce-000003")
    stale, raw = _signed(partner.key_id, secret, body, "nonce-000004", timestamp=int(time.time()) - 3600)
    for headers in (bad, stale, {**stale, "key_id": "pk_unknown"}):
        with pytest.raises(PartnerSignatureInvalid):
            benefit_grants.partner_grant(headers, "POST", path, raw, body)
    assert len(grants(channel="partner")) == 1


def test_members_are_texted_once_before_their_benefits_expire(ctx):
    make_world()
    sku = vouchers("EXPIRING", quantity=3, valid_days=3)
    member, _ = make_member(with_card=False)
    phone = members.reveal_phone(ACTOR, member.id)
    benefit_grants.grant_batch(MANAGER, sku.id, "one.csv", f"{phone}\n".encode())
    assert get_settings().benefit_expiry_notice_days == 3
    today = alliance_today()  # the alliance's day (Asia/Shanghai), not the machine's: they differ 16:00-24:00 UTC
    for _ in range(2):
        jobs.run_job("notify-benefits-expiring", today)
    sms = db.session.scalars(select(SmsMessage).where(SmsMessage.template == "benefit_expiring")).all()
    assert len(sms) == 1
    assert db.session.scalar(select(func.count()).where(BenefitCode.expiry_notified_on.is_not(None))) == 1


def test_the_member_records_a_birthday_once_on_the_wallet_page(app, client):
    from tests.member.support import register_phone

    with app.app_context():
        make_world()
        login = register_phone("13900005271")
        member_id = login.member.id
        db.session.remove()
    client.set_cookie("member_session", login.session_token, path="/m")
    page = client.get("/m/benefits")
    assert page.status_code == 200 and "我的生日" in page.get_data(as_text=True)
    csrf = page.get_data(as_text=True).split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    client.post("/m/benefits/birthday", data={"csrf_token": csrf, "birthday": "1990-2-29"})
    client.post("/m/benefits/birthday", data={"csrf_token": csrf, "birthday": "05-01"})  # refused: set already
    with app.app_context():
        assert benefit_grants.birthday_of(member_id) == "02-29"
