"""Attribution snapshotted on each sale, recruitment by link and consigned cards, member invitations (裂变分享)
with their reward on the friend's consumption only — through the services, as the API and pages use them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from server.domain.errors import Conflict, InvalidRequest
from server.domain.invitations import invite_reward, reward_taken_back
from server.extensions import db
from server.models import Card, LedgerAccount, LedgerTransaction, Member, PointsLot, Sale
from server.models.base import utcnow
from server.services import agents, cards, catalog, checkout, members, recruitment, regions
from server.services.agent_evaluation import evaluate_agents, evaluations_of
from server.services.alliance import get_settings, update_points_policy
from server.services.sales.attribution import INVITE_REWARD
from tests.builders import ACTOR, make_member, make_world, next_phone
from tests.clock import frozen_clock

AFTER = datetime(2026, 12, 2, tzinfo=UTC)


@pytest.fixture
def world(ctx):
    regions.load_regions()
    return make_world()


def new_agent(name="代理"):
    agent = agents.create_agent(ACTOR, kind="person", name=name, phone=next_phone())
    agents.update_agent(ACTOR, agent.id, status="active", status_reason="contract signed")
    return agent


def sell(shop, card, amount_fen, when=None):
    if when is None:
        found = checkout.identify(shop.terminal, code=card.card_no)
        return checkout.record_sale(shop.terminal, identification_token=found.token, amount_fen=amount_fen)
    with frozen_clock(when):
        return sell(shop, card, amount_fen)


def balance(member) -> int:
    return db.session.get(LedgerAccount, member.points_account_id).balance


def friend_of(inviter, **fields):
    """A member who joined through ``inviter``'s invite link, with a card."""
    friend = members.register_member("member:self", next_phone(), invited_by=inviter.id, **fields)
    card = members.create_cards(ACTOR, 1)[0]
    members.bind_card(ACTOR, friend.id, card.card_no)
    return friend, card


# --- the snapshot ---------------------------------------------------------------------------------------


def test_a_sale_keeps_the_agents_of_its_time_and_the_evaluation_counts_them(world):
    first, second, recruiter = new_agent("甲"), new_agent("乙"), new_agent("招募")
    catalog.update_merchant(ACTOR, world.shop_a.merchant.id, agent_id=first.id)
    member, card = make_member()
    agents.record_recruitment(ACTOR, member.id, recruiter.id)
    early = sell(world.shop_a, card, 50_000, datetime(2026, 11, 3, 4, tzinfo=UTC)).sale
    assert (early.servicing_agent_id, early.recruiting_agent_id, early.recruiting_member_id) == (
        first.id,
        recruiter.id,
        None,
    )
    catalog.update_merchant(ACTOR, world.shop_a.merchant.id, agent_id=second.id)  # the merchant changes hands
    late = sell(world.shop_a, card, 20_000, datetime(2026, 11, 20, 4, tzinfo=UTC)).sale
    assert late.servicing_agent_id == second.id
    assert db.session.get(Sale, early.id).servicing_agent_id == first.id  # the past is not rewritten

    evaluate_agents(ACTOR, "2026-11", now=AFTER)
    gmv = {a.id: evaluations_of(a.id)[0].figures["serviced_gmv_fen"] for a in (first, second, recruiter)}
    assert gmv[first.id] == early.payable_fen + early.redeem_value_fen
    assert gmv[second.id] == late.payable_fen + late.redeem_value_fen
    assert gmv[recruiter.id] == 0
    assert evaluations_of(recruiter.id)[0].figures["active_recruited_members"] == 1


def test_a_sale_without_agents_has_none(world):
    _, card = make_member()
    sale = sell(world.shop_b, card, 1_000).sale
    assert (sale.servicing_agent_id, sale.recruiting_agent_id, sale.recruiting_member_id) == (None, None, None)
    assert sale.invite_reward_points == 0


# --- recruitment: the agent's link, consigned cards -----------------------------------------------------


def test_an_agents_recruit_link_records_the_agent(world):
    agent = new_agent()
    token = recruitment.agent_token(agent.id)
    assert recruitment.recruiting_agent_of(token) == agent.id
    assert recruitment.recruiting_agent_of(token + "x") is None  # a forged token names no one
    assert recruitment.recruiting_agent_of(recruitment.invite_token(agent.id)) is None  # another salt
    member = members.register_member("member:self", next_phone(), recruited_by_agent=agent.id)
    assert member.recruited_by_agent_id == agent.id


def test_consigned_cards_recruit_their_members_and_report_what_they_did(world):
    agent, other = new_agent("拿卡代理"), new_agent("别的代理")
    batch = cards.create_batch(ACTOR, 6, kind="printed")
    numbers = sorted(db.session.scalars(select(Card.card_no).where(Card.batch_id == batch.id)))
    consignment = recruitment.consign_cards(ACTOR, batch.id, agent.id, numbers[0], numbers[2])
    assert consignment.count == 3
    with pytest.raises(Conflict):  # overlapping another consignment
        recruitment.consign_cards(ACTOR, batch.id, other.id, numbers[2], numbers[4])
    with pytest.raises(InvalidRequest):
        recruitment.consign_cards(ACTOR, batch.id, other.id, "1", numbers[4])
    rest = recruitment.consign_cards(ACTOR, batch.id, other.id, numbers[3], None)
    assert rest.count == 3

    fresh = members.register_member(ACTOR, next_phone())
    members.bind_card(ACTOR, fresh.id, numbers[0])
    assert db.session.get(Member, fresh.id).recruited_by_agent_id == agent.id
    already = members.register_member(ACTOR, next_phone(), recruited_by_agent=other.id)
    members.bind_card(ACTOR, already.id, numbers[1])
    assert db.session.get(Member, already.id).recruited_by_agent_id == other.id  # a recruiter is never replaced
    found = checkout.identify(world.shop_a.terminal, code=numbers[0])
    checkout.record_sale(world.shop_a.terminal, identification_token=found.token, amount_fen=8_800)

    rows = {row["agent_id"]: row for row in recruitment.consignments_of(batch.id)}
    assert (rows[agent.id]["count"], rows[agent.id]["activated"], rows[agent.id]["sales"]) == (3, 2, 1)
    assert rows[agent.id]["consumption_fen"] > 0
    assert (rows[other.id]["activated"], rows[other.id]["sales"]) == (0, 0)


# --- invitations (裂变分享) -------------------------------------------------------------------------------


def test_an_invite_link_records_the_inviter(world):
    inviter, _ = make_member()
    token = recruitment.invite_token(inviter.id)
    assert recruitment.inviter_of(token) == inviter.id
    assert recruitment.inviter_of("garbage") is None
    friend, _ = friend_of(inviter)
    assert friend.invited_by_member_id == inviter.id
    assert recruitment.invited_friends(inviter.id) == {"friends": 1, "reward_points": 0}


def test_sign_up_alone_grants_nothing_the_friends_consumption_does(world):
    update_points_policy(ACTOR, invite_reward_points_per_yuan=2, invite_reward_days=30)
    inviter, _ = make_member()
    friend, card = friend_of(inviter)
    assert balance(inviter) == 0  # the sign-up and the card's activation earned nothing
    assert db.session.scalar(select(func.count()).where(LedgerTransaction.kind == INVITE_REWARD)) == 0

    sale = sell(world.shop_a, card, 12_345).sale
    assert sale.recruiting_member_id == inviter.id
    assert sale.invite_reward_points == sale.payable_fen * 2 // 100
    assert balance(inviter) == sale.invite_reward_points
    lots = db.session.scalars(select(PointsLot).where(PointsLot.member_id == inviter.id)).all()
    assert [(lot.source, lot.remaining) for lot in lots] == [("invite", sale.invite_reward_points)]
    assert recruitment.invited_friends(inviter.id)["reward_points"] == sale.invite_reward_points


def test_a_refund_takes_back_the_refunded_share_of_the_reward(world):
    update_points_policy(ACTOR, invite_reward_points_per_yuan=1)
    inviter, _ = make_member()
    _, card = friend_of(inviter)
    sale = sell(world.shop_a, card, 20_000).sale
    reward = sale.invite_reward_points
    assert reward > 0
    checkout.refund_sale(ACTOR, sale.id, None, sale.payable_fen // 2, "退一半")
    assert balance(inviter) == reward - reward_taken_back(reward, sale.payable_fen, 0, sale.payable_fen // 2)
    checkout.refund_sale(ACTOR, sale.id, None, None, "退剩下的")
    assert balance(inviter) == 0


def test_a_refund_takes_back_no_more_than_the_inviter_holds(world):
    update_points_policy(ACTOR, invite_reward_points_per_yuan=1)
    inviter, inviter_card = make_member()
    _, card = friend_of(inviter)
    sale = sell(world.shop_a, card, 20_000).sale
    members.adjust_points(ACTOR, inviter.id, -sale.invite_reward_points, "spent elsewhere")  # all gone
    checkout.refund_sale(ACTOR, sale.id, None, None, "全退")
    assert balance(inviter) == 0
    assert inviter_card is not None


def test_no_reward_when_off_or_after_the_first_days(world):
    inviter, _ = make_member()
    friend, card = friend_of(inviter)
    assert sell(world.shop_a, card, 10_000).sale.invite_reward_points == 0  # the default is off
    update_points_policy(ACTOR, invite_reward_points_per_yuan=5, invite_reward_days=30)
    db.session.get(Member, friend.id).created_at = utcnow() - timedelta(days=31)
    db.session.commit()
    assert sell(world.shop_a, card, 10_000).sale.invite_reward_points == 0
    assert balance(inviter) == 0
    assert get_settings().invite_reward_points_per_yuan == 5


# --- compliance: nothing for sign-ups, activations or headcount ---------------------------------------------


@given(
    rate=st.integers(min_value=0, max_value=100),
    days=st.integers(min_value=0, max_value=365),
    joined_days_ago=st.integers(min_value=0, max_value=400),
)
def test_a_reward_is_only_ever_a_share_of_paid_consumption(rate, days, joined_days_ago):
    now = datetime(2026, 11, 1, tzinfo=UTC)
    joined = now - timedelta(days=joined_days_ago)
    assert invite_reward(0, rate, days, joined, now) == 0  # no payment, no reward: a sign-up pays nothing
    paid = 10_000
    reward = invite_reward(paid, rate, days, joined, now)
    assert 0 <= reward <= paid * rate // 100
    assert (reward > 0) == (rate > 0 and joined_days_ago < days)
    assert sum(reward_taken_back(reward, paid, done, 2_500) for done in (0, 2_500, 5_000, 7_500)) == reward


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rate=st.integers(min_value=0, max_value=100),
    days=st.integers(min_value=1, max_value=365),
    friends=st.integers(min_value=1, max_value=3),
)
def test_for_every_setting_sign_ups_and_activations_pay_nobody(world, rate, days, friends):
    update_points_policy(ACTOR, invite_reward_points_per_yuan=rate, invite_reward_days=days)
    agent = new_agent()
    inviter, _ = make_member()
    batch = cards.create_batch(ACTOR, friends, kind="printed")
    recruitment.consign_cards(ACTOR, batch.id, agent.id)
    numbers = db.session.scalars(select(Card.card_no).where(Card.batch_id == batch.id)).all()
    before = db.session.scalar(select(func.count()).select_from(LedgerTransaction))
    for number in numbers:
        friend = members.register_member("member:self", next_phone(), invited_by=inviter.id)
        members.bind_card(ACTOR, friend.id, number)  # activation of a consigned card
    assert db.session.scalar(select(func.count()).select_from(LedgerTransaction)) == before
    assert balance(inviter) == 0
