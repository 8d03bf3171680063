"""Consigning a card batch (or a range of it) to an agent from the batch page, and what it shows after."""

from __future__ import annotations

import re

from sqlalchemy import select

from server.extensions import db
from server.models import Card, Member
from server.services import agents, members
from tests.builders import ACTOR, next_phone
from tests.console.support import build_console_world, page_text, post_form, sign_in


def test_consign_a_range_of_a_batch_to_an_agent_from_the_batch_page(app, client):
    build_console_world(app, client)
    with app.app_context():
        agent = agents.create_agent(ACTOR, kind="person", name="拿卡的代理", phone=next_phone())
        agent_id = agent.id
        db.session.remove()
    assert sign_in(client, "c-card_issuer").status_code == 302
    created = post_form(
        client, "/console/card-batches", "/console/card-batches/new", {"count": "4", "kind": "printed", "level": ""}
    )
    batch_url = created.headers["Location"]
    batch_id = batch_url.rsplit("/", 1)[1]
    with app.app_context():
        numbers = sorted(db.session.scalars(select(Card.card_no).where(Card.batch_id == batch_id)))
        db.session.remove()
    page = page_text(client.get(batch_url))
    assert "代理拿卡" in page and "本批次尚无卡片交给代理" in page
    form = page.split('class="row g-2 align-items-end consign-form"')[1]
    once = re.search(r'name="once"[^>]*value="([^"]+)"', form).group(1)
    action = f"{batch_url}/consign"
    data = {"agent_id": agent_id, "first_card_no": numbers[0], "last_card_no": numbers[1], "once": once}
    done = post_form(client, batch_url, action, data)
    assert done.status_code == 302, page_text(done)
    overlap = post_form(client, batch_url, action, {"agent_id": agent_id, "first_card_no": numbers[1]})
    assert overlap.status_code == 409 and "部分卡片已交给其他代理" in page_text(overlap)

    with app.app_context():
        member = members.register_member(ACTOR, next_phone())
        members.bind_card(ACTOR, member.id, numbers[0])
        assert db.session.get(Member, member.id).recruited_by_agent_id == agent_id
        db.session.remove()
    table = page_text(client.get(batch_url)).split('id="consignments"')[1].split("</table>")[0]
    assert "拿卡的代理" in table and f"{numbers[0]} – {numbers[1]}" in table
    assert re.search(r"<td>2</td><td>1</td><td>0</td>", table)  # 2 cards, 1 activated, no sales yet
