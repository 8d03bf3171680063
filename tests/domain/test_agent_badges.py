"""Badges of the monthly evaluation: the highest serviced consumption above the health floor (ties by id,
nobody on zero), the most recruited members who consumed, and a full health score with consumption."""

from __future__ import annotations

from server.domain.agent_badges import AgentBadgeCode, BadgeAward, EvaluationRecord, award_badges
from server.domain.agent_network import ACTIVE_RECRUITED_MEMBERS, HEALTH_SCORE, SERVICED_GMV_FEN

FLOOR = 60


def record(agent_id, gmv=0, members=0, health=80, **figures):
    return EvaluationRecord(agent_id, {SERVICED_GMV_FEN: gmv, ACTIVE_RECRUITED_MEMBERS: members, **figures}, health)


def holders(awards, code):
    return [award.agent_id for award in awards if award.code == code]


def test_star_of_the_month_is_the_highest_serviced_consumption_with_its_figures():
    awards = award_badges([record("agt_b", gmv=500_00), record("agt_a", gmv=900_00), record("agt_c")], FLOOR)
    assert holders(awards, AgentBadgeCode.STAR_OF_MONTH) == ["agt_a"]
    star = next(award for award in awards if award.code == AgentBadgeCode.STAR_OF_MONTH)
    assert star == BadgeAward("agt_a", AgentBadgeCode.STAR_OF_MONTH, {SERVICED_GMV_FEN: 900_00, HEALTH_SCORE: 80})


def test_ties_go_to_the_lowest_agent_id():
    awards = award_badges([record("agt_z", gmv=100, members=3), record("agt_m", gmv=100, members=3)], FLOOR)
    assert holders(awards, AgentBadgeCode.STAR_OF_MONTH) == ["agt_m"]
    assert holders(awards, AgentBadgeCode.RECRUITING_STAR) == ["agt_m"]


def test_nobody_is_star_when_nothing_was_consumed():
    awards = award_badges([record("agt_a", health=100), record("agt_b", health=100)], FLOOR)
    assert awards == []  # no star, no recruiting star, and a full health score alone is not a health model
    assert award_badges([], FLOOR) == []


def test_an_agent_under_the_health_floor_is_passed_over():
    awards = award_badges([record("agt_a", gmv=10_000, members=9, health=59), record("agt_b", gmv=1, members=1)], FLOOR)
    assert holders(awards, AgentBadgeCode.STAR_OF_MONTH) == ["agt_b"]
    assert holders(awards, AgentBadgeCode.RECRUITING_STAR) == ["agt_b"]
    assert award_badges([record("agt_a", gmv=10_000, health=FLOOR)], FLOOR)[0].agent_id == "agt_a"  # at the floor


def test_recruiting_star_counts_members_who_consumed_never_sign_ups_or_subordinates():
    big_team = record("agt_a", gmv=0, members=2, recruited_members=500, subordinate_active_days=90)
    awards = award_badges([big_team, record("agt_b", gmv=0, members=3)], FLOOR)
    assert holders(awards, AgentBadgeCode.RECRUITING_STAR) == ["agt_b"]
    assert award_badges([record("agt_a", recruited_members=500)], FLOOR) == []


def test_every_agent_with_full_health_and_consumption_is_a_health_model():
    records = [
        record("agt_b", gmv=5, health=100),
        record("agt_a", gmv=7, health=100),
        record("agt_c", gmv=9, health=99),
    ]
    awards = award_badges(records, FLOOR)
    assert holders(awards, AgentBadgeCode.HEALTH_MODEL) == ["agt_a", "agt_b"]
    assert holders(awards, AgentBadgeCode.STAR_OF_MONTH) == ["agt_c"]
