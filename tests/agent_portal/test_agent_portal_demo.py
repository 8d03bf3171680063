"""The demo (`seed-demo`, `python run.py`) prints how to sign in as the demo agents, and the city agent can."""

from __future__ import annotations

from server.cli import print_demo_agents
from server.extensions import db
from server.services.demo import seed_demo
from server.services.demo_agents import DEMO_AGENTS
from tests.agent_portal.support import sign_in


def test_the_demo_city_agent_signs_in_and_sees_its_network(app, client, capsys):
    with app.app_context():
        assert seed_demo() is not None
        db.session.remove()
    print_demo_agents()
    printed = capsys.readouterr().out
    city = DEMO_AGENTS["city"]
    assert "/a/" in printed and city["phone"] in printed and city["name"] in printed
    assert sign_in(app, client, city["phone"]).status_code == 302
    level = client.get("/a/level").get_data(as_text=True)
    assert "我的等级" in level and "距离" in level
    team = client.get("/a/team").get_data(as_text=True)
    assert DEMO_AGENTS["nanshan"]["name"] in team and DEMO_AGENTS["futian"]["name"] in team
