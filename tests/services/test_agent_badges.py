"""Badges are awarded inside the evaluation, from the period's records, and never twice on a re-run."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from server.extensions import db
from server.models import AgentBadge
from server.services import catalog
from server.services.agent_badges import badges_of
from server.services.agent_evaluation import evaluate_agents
from tests.builders import ACTOR, make_member
from tests.services.test_agents_service import AFTER, new_agent, sell, world  # noqa: F401 (fixture)


def codes(agent_id):
    return sorted((badge.period, badge.code) for badge in badges_of(agent_id))


def test_the_evaluation_awards_badges_once_and_a_rerun_adds_none(world):  # noqa: F811
    star = new_agent("月度代理")
    recruiter = new_agent("拓客代理")
    idle = new_agent("无消费代理")
    catalog.update_merchant(ACTOR, world.shop_a.merchant.id, agent_id=star.id)
    for _ in range(2):
        member, card = make_member()
        member.recruited_by_agent_id = recruiter.id
        db.session.commit()
        sell(world.shop_a, card, 30_000, datetime(2026, 11, 5, 4, tzinfo=UTC))  # serviced by star
    make_member(with_card=False)[0].recruited_by_agent_id = star.id  # a bare sign-up counts for nothing
    db.session.commit()

    summary = evaluate_agents(ACTOR, "2026-11", now=AFTER)
    assert summary["badges"] == 3
    assert codes(star.id) == [("2026-11", "health_model"), ("2026-11", "star_of_month")]
    assert codes(recruiter.id) == [("2026-11", "recruiting_star")]
    assert codes(idle.id) == []
    reason = next(b for b in badges_of(star.id) if b.code == "star_of_month").reason
    assert reason == {"serviced_gmv_fen": 60_000, "health_score": 100}

    late = new_agent("后加代理")  # evaluated by a second run: the month's star stays the one already given
    catalog.update_merchant(ACTOR, world.shop_b.merchant.id, agent_id=late.id)
    sell(world.shop_b, make_member()[1], 90_000, datetime(2026, 11, 20, 4, tzinfo=UTC))  # more than the star
    again = evaluate_agents(ACTOR, "2026-11", now=AFTER)
    assert (again["evaluated"], again["badges"]) == (1, 1)
    assert codes(late.id) == [("2026-11", "health_model")]
    assert codes(star.id) == [("2026-11", "health_model"), ("2026-11", "star_of_month")]
    assert evaluate_agents(ACTOR, "2026-11", now=AFTER)["badges"] == 0
    assert len(db.session.scalars(select(AgentBadge)).all()) == 4
