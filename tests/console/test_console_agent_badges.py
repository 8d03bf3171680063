"""The console's agent detail page lists the badges the evaluation awarded, with month and figures."""

from __future__ import annotations

import pytest

from server.extensions import db
from server.models import AgentBadge
from server.services import staff
from tests.builders import ACTOR
from tests.console.support import PASSWORD, build_console_world, page_text, seed_agents, sign_in


@pytest.fixture
def scene(app, client):
    scene = build_console_world(app, client)
    with app.app_context():
        scene.ids = seed_agents(scene)
        staff.create_staff_user(ACTOR, "c-agents", "agent_manager", PASSWORD)
        db.session.add(
            AgentBadge(
                agent_id=scene.ids["agent_id"],
                period=scene.ids["period"],
                code="star_of_month",
                reason={"serviced_gmv_fen": 123_456, "health_score": 100},
            )
        )
        db.session.commit()
        db.session.remove()
    return scene


def test_the_agent_detail_page_shows_its_badges(scene, client):
    assert sign_in(client, "c-agents").status_code == 302
    detail = page_text(client.get(f"/console/agents/{scene.ids['agent_id']}"))
    period = scene.ids["period"]
    assert "徽章" in detail and f"{period} · 月度之星: 服务消费额 ¥1,234.56 健康分 100" in detail
