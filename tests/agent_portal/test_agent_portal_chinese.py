"""Every agent portal page in Chinese: rendered for an agent with data of every kind, no English text leaks.

The pages are enumerated from the portal blueprint's GET routes, so a new page is covered without editing
this test. The detector is the console's (tests/console/test_console_chinese.py).
"""

from __future__ import annotations

import pytest

from server.domain.statuses import AgentStatus
from server.extensions import db
from server.services import agents
from tests.agent_portal.support import CITY_PHONE, build_network, sign_in
from tests.builders import ACTOR
from tests.console.test_console_chinese import untranslated

NOT_PAGES = {"agent_portal.static", "agent_portal.unknown_page", "agent_portal.home", "agent_portal.logout"}
NOT_PAGES |= {"agent_portal.statement_file", "agent_portal.tax_file"}  # file downloads (CSV, PDF)


def every_portal_page(app) -> list[str]:
    pages = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("agent_portal.") and rule.endpoint not in NOT_PAGES and "GET" in rule.methods:
            assert not rule.arguments, f"{rule.rule}: give this page's arguments to the test"
            pages.append(rule.rule)
    return sorted(pages)


@pytest.mark.timeout(120)
def test_every_portal_page_is_in_chinese(app, client):
    network = build_network(app)
    with app.app_context():  # a suspended subordinate and its notice, as well
        agents.update_agent(ACTOR, network.county, status=AgentStatus.SUSPENDED, status_reason="review")
        db.session.remove()
    leaks = {}
    login = client.get("/a/login").get_data(as_text=True)
    if found := untranslated(login):
        leaks["/a/login"] = found
    sign_in(app, client, CITY_PHONE)
    pages = every_portal_page(app)
    assert len(pages) >= 7
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        if found := untranslated(response.get_data(as_text=True)):
            leaks[url] = found
    missing = client.get("/a/no-such-page")
    assert missing.status_code == 404 and "页面不存在" in missing.get_data(as_text=True)
    if found := untranslated(missing.get_data(as_text=True)):
        leaks["/a/no-such-page"] = found
    for url in pages:  # and every page still renders in English
        assert client.get(url + "?lang=en").status_code == 200
    assert leaks == {}, "\n".join(f"{url}: {found}" for url, found in leaks.items())


def test_the_suspended_notice_is_in_chinese(app, client):
    network = build_network(app)
    with app.app_context():
        agents.update_agent(ACTOR, network.city, status=AgentStatus.SUSPENDED, status_reason="review")
        db.session.remove()
    sign_in(app, client, CITY_PHONE)
    page = client.get("/a/level").get_data(as_text=True)
    assert "您的代理账户已暂停" in page and untranslated(page) == []
