"""The level page lists the badges the evaluation awarded me, each with its month and figures."""

from __future__ import annotations

import re

import pytest

from server.services.agent_evaluation import previous_period_name
from server.services.points import alliance_today
from tests.agent_portal.support import CITY_PHONE, OUTSIDER_PHONE, build_network, sign_in


@pytest.fixture
def network(app):
    return build_network(app)


def text_of(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def test_the_level_page_shows_my_awarded_badges_with_their_month(app, client, network):
    with app.app_context():
        period = previous_period_name(alliance_today())
    sign_in(app, client, CITY_PHONE)
    page = text_of(client.get("/a/level"))
    assert "徽章" in page and "月度徽章由月度考核颁发" in page
    assert f"月度之星 {period}" in page and f"健康标兵 {period}" in page  # the most serviced consumption
    assert f"月度之星 {period} · 服务商户消费额 ¥1,801.20 · 健康分 100" in page  # the figures it was given for


def test_an_agent_sees_only_its_own_badges(app, client, network):
    with app.app_context():
        period = previous_period_name(alliance_today())
    sign_in(app, client, OUTSIDER_PHONE)
    page = text_of(client.get("/a/level"))
    assert f"月度之星 {period}" not in page and f"健康标兵 {period}" in page
