"""The console's conventions, server side: names instead of identifiers, the audit log as sentences, actions
confirmed and offered only when allowed, refusals in Chinese, filters reported, paging, one menu entry lit."""

from __future__ import annotations

import re

import pytest

from server.extensions import db
from server.models import AuditLog, Card
from server.services import cards
from tests.builders import ACTOR
from tests.console.support import (
    build_console_world,
    csrf_from,
    every_console_page,
    page_text,
    post_form,
    seed_every_kind_of_object,
    sign_in,
)
from tests.console.test_console_chinese import VisibleText

IDENTIFIER = re.compile(r"(?<![\w-])(?:mem|mer|usr|trm|lvl|sal|ref)_[\w-]+|\b(?:staff|terminal|member):[a-z]{3}_[\w-]+")


def visible(html: str) -> str:
    parser = VisibleText()
    parser.feed(html.replace('translate="no"', ""))  # names count as visible here
    return " ".join(parser.texts)


def menu(html: str) -> str:
    """The side navigation of a page."""
    return html.split('<nav class="console-nav"', 1)[1].split("</nav>", 1)[0]


@pytest.fixture
def scene(app, client):
    scene = build_console_world(app, client)
    scene.ids = seed_every_kind_of_object(app, client, scene)
    assert sign_in(client, "c-admin").status_code == 302
    return scene


def test_pages_show_names_with_identifiers_only_in_tooltips(scene, client):
    member_link = f'href="/console/members/{scene.member.id}" title="{scene.member.id}"'
    pages = ("/console/ledger", "/console/cards", f"/console/cards/{scene.card.id}", f"/console/sales/{scene.sale_id}")
    for url in pages:
        html = page_text(client.get(url))
        assert IDENTIFIER.findall(visible(html)) == [], url
        assert "赵* 139****5678" in html and member_link in html, url
    for url in every_console_page(client.application, scene.ids):  # and no page shows one in its text
        assert IDENTIFIER.findall(visible(page_text(client.get(url, follow_redirects=True)))) == [], url
    ledger = page_text(client.get("/console/ledger"))
    assert '<a href="/console/merchants/' in ledger and "甲店" in ledger  # merchants' accounts by name


def test_the_audit_log_reads_as_chinese_sentences_with_each_change(app, scene, client):
    merchant = f"/console/merchants/{scene.world.shop_a.merchant.id}"
    form = page_text(client.get(f"{merchant}/edit"))
    fields = dict(re.findall(r'<input[^>]*name="(\w+)"[^>]*value="([^"]*)"', form))
    fields.update(name="甲店（新）", trade="food", status="active")
    fields.pop("csrf_token", None)
    assert post_form(client, f"{merchant}/edit", f"{merchant}/edit", fields).status_code == 302
    html = page_text(client.get("/console/audit"))
    text = visible(html)
    assert "card.report_lost" not in text and "{" not in text  # no codes, no raw JSON
    assert re.search(r"系统\s*将卡\s*\d+\s*挂失\s*（原因：\s*会员说丢在地铁上\s*）", text), text[:800]
    assert re.search(r"管理员 c-admin\s*修改了商户\s*甲店（新）", text)
    assert "名称：<del>甲店</del> → <ins>甲店（新）</ins>" in html
    assert "状态：" not in html.split("修改了商户")[1].split("登录了管理后台")[0]  # unchanged fields are left out
    assert re.search(r"为消费\s*<a [^>]*>[\w-]+</a>\s*办理了退款", html)  # a sale by its receipt number


def test_card_actions_are_offered_only_when_the_status_allows_and_need_a_reason(app, scene, client):
    detail = f"/console/cards/{scene.card.id}"
    offered = set(re.findall(r'data-action="(\w+)"', page_text(client.get(detail))))
    assert offered == {"unfreeze", "cancel"}  # the card is lost: no 挂失, no 冻结
    assert "挂失</a>" not in page_text(client.get(detail))
    stale = client.get(f"{detail}/lost", follow_redirects=True)  # an old page's button
    assert "不能执行此操作" in page_text(stale)
    cancel = f"{detail}/cancel"
    page = page_text(client.get(cancel))
    assert "注销卡" in page and "无法撤销" in page and 'name="reason"' in page
    assert post_form(client, cancel, cancel, {"reason": ""}).status_code == 422
    with app.app_context():
        assert db.session.get(Card, scene.card.id).status == "lost"
        db.session.remove()
    assert post_form(client, cancel, cancel, {"reason": "会员要求注销"}).status_code == 302
    with app.app_context():
        assert db.session.get(Card, scene.card.id).status == "cancelled"
        entry = db.session.query(AuditLog).filter_by(action="card.cancel").one()
        assert entry.details["reason"] == "会员要求注销"
        db.session.remove()
    html = page_text(client.get(detail))
    assert "data-action" not in html and "此状态的卡不能再更改" in html


def test_a_change_sent_from_a_page_opened_before_the_card_changed_is_refused_in_chinese(app, scene, client):
    with app.app_context():
        card = db.session.get(Card, scene.card.id)
        cards.unfreeze(ACTOR, card.card_no, "找到了")
        cards.report_lost(ACTOR, card.card_no, "又丢了")
        db.session.remove()
    # A form sent from a page opened before the card changed: the service refuses, in Chinese.
    page = f"/console/cards/{scene.card.id}/unfreeze"
    html = page_text(client.get(page))
    with app.app_context():
        cards.unfreeze(ACTOR, card.card_no, "")
        cards.freeze(ACTOR, card.card_no, "")
        cards.unfreeze(ACTOR, card.card_no, "")
        db.session.remove()
    done = client.post(page, data={"csrf_token": csrf_from(html), "reason": "找到了"})
    assert done.status_code == 302
    after = page_text(client.get(done.location))
    assert "The card" not in after and ("不能执行此操作" in after or "无需解冻" in after)
    assert 'name="reason"' in html


def test_a_fully_refunded_sale_offers_no_refund(app, scene, client):
    sale = f"/console/sales/{scene.sale_id}"
    assert "refund-form" in page_text(client.get(sale))
    data = {"reason": "退全款", "confirmed": "yes"}
    assert post_form(client, sale, f"{sale}/refunds", data).status_code == 302
    html = page_text(client.get(sale))
    assert "refund-form" not in html and "已全额退款" in html
    who = r'<a href="/console/audit\?actor=staff(?:%3A|:)usr_[\w-]+" title="staff:usr_[\w-]+" translate="no">'
    who += "管理员 c-admin</a>"
    assert re.search(who, html)  # who refunded, by name, linked to what they did
    assert IDENTIFIER.findall(visible(html)) == []


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("/console/cards?status=bogus", "状态：无法识别“bogus”"),
        ("/console/sales?from=2026-13-01", "“2026-13-01”"),
        ("/console/ledger?kind=gift", "“gift”"),
        ("/console/merchants?trade=space", "“space”"),
        ("/console/sales?merchant_id=mer_gone", "商户：无法识别“mer_gone”"),
        ("/console/cards?page=abc", "页码：无法识别“abc”"),
        ("/console/cards?page=99", "第 99 页不存在"),
    ],
)
def test_filters_a_list_cannot_use_are_reported(scene, client, url, shown):
    html = page_text(client.get(url))
    assert shown in html


def test_long_lists_have_first_and_last_page_and_a_page_jump(app, scene, client):
    with app.app_context():
        batch = cards.create_batch(ACTOR, 120, name="大批次")
        db.session.remove()
    html = page_text(client.get(f"/console/card-batches/{batch.id}?page=2"))
    assert "首页" in html and "末页" in html and 'name="page"' in html and "第 2 / 3 页" in html
    assert f'href="/console/card-batches/{batch.id}?page=3"' in html
    assert len(re.findall(r'class="nav-link active"', menu(html))) == 1  # 卡批次, not also 卡片
    assert re.search(r'class="nav-link active"[^>]*>\s*<i class="bi bi-boxes"></i>', menu(html))


def test_exactly_one_menu_entry_is_lit_on_every_page(scene, client):
    for url in every_console_page(client.application, scene.ids):
        html = page_text(client.get(url, follow_redirects=True))
        assert len(re.findall(r'class="nav-link active"', menu(html))) == 1, url


def test_refusals_from_the_services_read_in_chinese_as_in_the_api(app):
    from server.console.display import domain_message
    from server.domain.errors import Conflict

    with app.test_request_context("/console/cards"):
        assert domain_message(Conflict("The card is already lost.")) == "此卡已是“已挂失”状态。"
        assert domain_message(Conflict("A lost card cannot be frozen.")) == "“已挂失”状态的卡不能冻结。"
    with app.test_request_context("/console/cards?lang=en"):
        assert domain_message(Conflict("The card is already lost.")) == "The card is already lost."
