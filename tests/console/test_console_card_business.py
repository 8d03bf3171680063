"""The card business from the console (issue 15): batches of printed or chip cards, their print files, binding
(console and member check code), replacement with a printed card, each card's history, and personal API tokens
issued and revoked in the console that the operator API (and so ``alliance-cards``) accepts."""

from __future__ import annotations

import csv
import io
import os
import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from server.extensions import db
from server.models import AuditLog, Card, CardBatch, PersonalToken
from server.services import cards, members, staff
from server.services.cards import card_check_code
from tests.builders import ACTOR
from tests.console.support import build_console_world, page_text, post_form, sign_in
from tests.member.support import register_phone

pytestmark = pytest.mark.timeout(300)
_BIND_CSRF = re.compile(r'name="bind-csrf_token" type="hidden" value="([^"]+)"')


def _create_batch(client, count: int, kind: str = "printed", level: str = "", name: str = "") -> str:
    response = post_form(
        client,
        "/console/card-batches",
        "/console/card-batches/new",
        {"count": str(count), "kind": kind, "level": level, "name": name},
    )
    assert response.status_code == 302, page_text(response)
    return response.headers["Location"].rsplit("/", 1)[1]


def _bind_in_console(client, card_id: str, phone: str):
    return post_form(client, f"/console/cards/{card_id}", f"/console/cards/{card_id}/bind", {"phone": phone})


def _bind_as_member(app, client, session_token: str, card_no: str, check_code: str):
    client.set_cookie("member_session", session_token, path="/m/")
    page = client.get("/m/cards")
    assert page.status_code == 200, (page.status_code, page.headers.get("Location"))
    csrf = _BIND_CSRF.search(page_text(page)).group(1)
    return client.post(
        "/m/cards", data={"bind-csrf_token": csrf, "bind-card_no": card_no, "bind-check_code": check_code}
    )


def test_a_printed_batch_is_issued_at_once_bound_in_the_console_and_by_the_member(app, client):
    build_console_world(app, client)
    assert sign_in(client, "c-card_issuer").status_code == 302
    batch_id = _create_batch(client, 12, "printed", name="春季印刷卡")
    with app.app_context():
        batch = db.session.get(CardBatch, batch_id)
        assert (batch.kind, batch.card_type, batch.count) == ("printed", "printed", 12)
        numbers = [card.card_no for card in cards.list_batch_cards(batch_id, _all())]
        assert {card.status for card in cards.list_batch_cards(batch_id, _all())} == {"issued"}
        buyer = members.register_member(ACTOR, "13600001111", "钱多多")
        first = cards.card_by_number(numbers[0])
        login = register_phone("13600002222")
        db.session.remove()
    page = page_text(client.get(f"/console/card-batches/{batch_id}"))
    assert "印刷卡" in page and "alliance-cards" not in page.split("<main", 1)[-1].split("encode-command")[0][-1:]
    assert f"/console/card-batches/{batch_id}/print.pdf" in page and "encode-command" not in page

    csv_file = client.get(f"/console/card-batches/{batch_id}/print.csv")
    assert csv_file.status_code == 200 and csv_file.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(csv_file.get_data(as_text=True))))
    assert [row["card_no"] for row in rows] == numbers
    with app.app_context():
        assert all(row["check_code"] == card_check_code(row["card_no"]) for row in rows)
    pdf = client.get(f"/console/card-batches/{batch_id}/print.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert f'{batch_id}.pdf"' in pdf.headers["Content-Disposition"]

    bound = _bind_in_console(client, first.id, "136 0000 1111")
    assert bound.status_code == 302, page_text(bound)
    unknown = _bind_in_console(client, cards_id(app, numbers[1]), "13600009999")
    assert unknown.status_code == 422 and "先登记会员" in page_text(unknown)
    member_client = app.test_client()
    by_member = _bind_as_member(app, member_client, login.session_token, numbers[1], check_code_of(app, numbers[1]))
    assert by_member.status_code == 302
    with app.app_context():
        assert cards.card_by_number(numbers[0]).member_id == buyer.id
        assert cards.card_by_number(numbers[1]).member_id == login.member.id
        assert {cards.card_by_number(n).status for n in numbers[:2]} == {"active"}
    listing = page_text(client.get("/console/card-batches"))
    assert 'aria-valuenow="2"' in listing  # two of twelve handed out


def _all():
    from server.console.paging import Page

    return Page(1, 1000)


def cards_id(app, card_no: str) -> str:
    with app.app_context():
        return cards.card_by_number(card_no).id


def check_code_of(app, card_no: str) -> str:
    with app.app_context():
        return card_check_code(card_no)


def test_a_chip_batch_shows_the_encode_command_and_a_printed_one_refuses_encoding(app, client):
    build_console_world(app, client)
    assert sign_in(client, "c-admin").status_code == 302
    chip_id = _create_batch(client, 3, "chip", level="gold")
    printed_id = _create_batch(client, 2, "printed")
    page = page_text(client.get(f"/console/card-batches/{chip_id}"))
    assert f"alliance-cards --server http://localhost encode --batch {chip_id}" in page
    with app.app_context():
        chip = db.session.get(CardBatch, chip_id)
        assert chip.kind == "chip" and chip.level_id is not None
        assert {card.status for card in cards.list_batch_cards(chip_id, _all())} == {"created"}
        from server.domain.errors import Conflict

        with pytest.raises(Conflict, match="printed without a chip"):
            cards.plan_encoding(ACTOR, printed_id, "04A1B2C3")


def test_a_lost_card_is_replaced_by_a_printed_card_from_a_new_batch_and_its_history_tells_it(app, client):
    scene = build_console_world(app, client)
    assert sign_in(client, "c-support").status_code == 302
    with app.app_context():
        batch = cards.create_batch(ACTOR, 2, kind="printed")
        new_no = cards.list_batch_cards(batch.id, _all())[0].card_no
        db.session.remove()
    old_id = scene.card.id
    lost = post_form(client, f"/console/cards/{old_id}/lost", f"/console/cards/{old_id}/lost", {"reason": "丢在地铁"})
    assert lost.status_code == 302
    replaced = post_form(
        client, f"/console/cards/{old_id}", f"/console/cards/{old_id}/replace", {"new_card_no": new_no}
    )
    assert replaced.status_code == 302, page_text(replaced)
    with app.app_context():
        new = cards.card_by_number(new_no)
        assert (new.status, new.member_id) == ("active", scene.member.id)
        assert db.session.get(Card, old_id).status == "replaced"
        new_id = new.id
    old_page = page_text(client.get(f"/console/cards/{old_id}"))
    history = old_page.split("card-history", 1)[1]
    assert history.index("挂失") < history.index("办理了补卡") and "丢在地铁" in history and "客服" in history
    assert "staff:usr_" not in re.sub(r'title="[^"]*"', "", history)  # people by name, ids only in tooltips
    new_page = page_text(client.get(f"/console/cards/{new_id}"))
    new_history = new_page.split("card-history", 1)[1]
    assert new_history.index("创建了卡批次") < new_history.index("作为补卡交给会员")  # its batch's creation first


def test_personal_tokens_are_issued_once_open_the_api_and_stop_when_revoked_or_expired(app, client):
    build_console_world(app, client)
    assert sign_in(client, "c-card_issuer").status_code == 302
    issued = post_form(client, "/console/tokens", "/console/tokens", {"name": "写卡台", "valid_days": "30"})
    assert issued.status_code == 200
    token = re.search(r"pt_[\w-]{20,}", page_text(issued)).group(0)
    assert token not in page_text(client.get("/console/tokens"))  # shown once
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/card-batches", headers=bearer).status_code == 200
    with app.app_context():
        record = db.session.scalar(select(PersonalToken).where(PersonalToken.name == "写卡台"))
        assert record.token_hash != token and token not in record.token_hash
        assert timedelta(days=29) < record.expires_at - record.created_at <= timedelta(days=30, seconds=5)
        other = staff.create_personal_token(ACTOR, _user_id("c-support"), "别人的", valid_days=90).record.id
        token_id = record.id
    assert client.get(f"/console/tokens/{other}/revoke").status_code == 404  # not theirs
    revoked = post_form(client, f"/console/tokens/{token_id}/revoke", f"/console/tokens/{token_id}/revoke", {})
    assert revoked.status_code == 422  # a reason is required
    revoked = post_form(
        client, f"/console/tokens/{token_id}/revoke", f"/console/tokens/{token_id}/revoke", {"reason": "换电脑"}
    )
    assert revoked.status_code == 302
    assert client.get("/api/v1/card-batches", headers=bearer).status_code == 401

    admin = app.test_client()
    assert sign_in(admin, "c-admin").status_code == 302
    assert "别人的" in page_text(admin.get("/console/tokens"))  # an admin sees everyone's
    assert post_form(admin, f"/console/tokens/{other}/revoke", f"/console/tokens/{other}/revoke", {"reason": "离职"})
    with app.app_context():
        assert db.session.get(PersonalToken, other).revoked_at is not None
        entries = db.session.scalars(select(AuditLog).where(AuditLog.action.like("staff.%_token"))).all()
        actions = [entry.action for entry in entries if entry.details.get("token_id") in {token_id, other}]
        assert sorted(actions) == ["staff.create_token"] * 2 + ["staff.revoke_token"] * 2
        expiring = staff.create_personal_token(ACTOR, _user_id("c-finance"), "短期", valid_days=1)
        expiring.record.expires_at = expiring.record.created_at - timedelta(seconds=1)
        db.session.commit()
        expired_token = expiring.token
    assert client.get("/api/v1/card-batches", headers={"Authorization": f"Bearer {expired_token}"}).status_code == 401
    audit_page = page_text(admin.get("/console/audit"))
    assert "吊销了" in audit_page


def _user_id(username: str) -> str:
    from server.models import StaffUser

    return db.session.scalar(select(StaffUser.id).where(StaffUser.username == username))


@pytest.mark.parametrize("count", [int(os.environ.get("CARD_FLOW_COUNT", "200"))])
def test_issue_print_hand_out_and_bind_a_batch_of_printed_cards_from_the_console(app, client, count):
    """The whole hand-out without leaving the console: create, download both print files, bind at the desk
    and let a member bind one with the check code. (1,000 cards: measured in the report; 200 keep CI quick.)"""
    scene = build_console_world(app, client)
    assert sign_in(client, "c-card_issuer").status_code == 302
    started = time.perf_counter()
    batch_id = _create_batch(client, count, "printed")
    created = time.perf_counter()
    csv_file = client.get(f"/console/card-batches/{batch_id}/print.csv")
    listed = time.perf_counter()
    pdf = client.get(f"/console/card-batches/{batch_id}/print.pdf")
    printed = time.perf_counter()
    rows = list(csv.DictReader(io.StringIO(csv_file.get_data(as_text=True))))
    assert len(rows) == count and pdf.data.startswith(b"%PDF")
    with app.app_context():
        for index in range(3):
            members.register_member(ACTOR, f"1350000{index:04d}")
        login = register_phone("13500009999")
        ids = [cards.card_by_number(row["card_no"]).id for row in rows[:3]]
        db.session.remove()
    for index, card_id in enumerate(ids[:2]):
        assert _bind_in_console(client, card_id, f"1350000{index:04d}").status_code == 302
    batch_url = f"/console/card-batches/{batch_id}"
    scanned = rows[2]["face_number"]  # as printed, in groups of four
    handed = post_form(client, batch_url, f"{batch_url}/hand-out", {"card_no": scanned, "phone": "13500000002"})
    assert handed.status_code == 302 and handed.headers["Location"].endswith(batch_url)
    foreign = post_form(
        client, batch_url, f"{batch_url}/hand-out", {"card_no": "8860000000000018", "phone": "13500000002"}
    )
    assert foreign.status_code == 422 and "本批次没有此卡号的卡片" in page_text(foreign)
    last = rows[-1]
    assert (
        _bind_as_member(app, app.test_client(), login.session_token, last["card_no"], last["check_code"]).status_code
        == 302
    )
    print(
        f"\n{count} printed cards: batch {created - started:.2f} s, "
        f"CSV {listed - created:.2f} s, PDF {printed - listed:.2f} s ({len(pdf.data) // 1024} KiB)"
    )
    page = page_text(client.get(batch_url))
    assert 'aria-valuenow="4"' in page
    with app.app_context():
        bound = [cards.card_by_number(row["card_no"]) for row in rows[:3] + rows[-1:]]
        assert {card.status for card in bound} == {"active"} and all(card.member_id for card in bound)
    till = app.test_client()  # the printed number (QR code, barcode) identifies the member at a till
    found = till.post("/api/v1/identify", json={"code": last["card_no"]}, headers=scene.world.shop_a.auth)
    assert found.status_code == 200, found.json
    unbound = till.post("/api/v1/identify", json={"code": rows[5]["card_no"]}, headers=scene.world.shop_a.auth)
    assert unbound.status_code == 404  # handed to nobody yet


def test_a_batch_too_large_for_a_console_pdf_shows_the_export_command(app, client, monkeypatch):
    from server.console.views import cards as card_views

    monkeypatch.setattr(card_views, "MAX_CONSOLE_PDF", 3)
    build_console_world(app, client)
    assert sign_in(client, "c-card_issuer").status_code == 302
    batch_id = _create_batch(client, 4, "printed")
    page = page_text(client.get(f"/console/card-batches/{batch_id}"))
    assert "print.pdf" not in page and f"batch export {batch_id} --format pdf" in page
    refused = client.get(f"/console/card-batches/{batch_id}/print.pdf")
    assert refused.status_code == 302 and refused.headers["Location"].endswith(batch_id)
    assert client.get(f"/console/card-batches/{batch_id}/print.csv").status_code == 200


def test_a_chip_card_not_yet_encoded_is_a_chip_card_and_a_printed_one_a_printed_card(app):
    from server.console.display import card_kind_label
    from tests.builders import make_world

    with app.test_request_context("/console/?lang=zh"):
        make_world()
        chip = cards.create_batch(ACTOR, 1)
        printed = cards.create_batch(ACTOR, 1, kind="printed")
        labels = [card_kind_label(cards.list_batch_cards(batch.id, _all())[0]) for batch in (chip, printed)]
        assert labels == ["芯片卡", "印刷卡"]
