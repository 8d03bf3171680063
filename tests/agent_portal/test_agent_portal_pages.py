"""The agent portal (/a/): sign-in with phone + SMS code, every page, and the walls between tenants."""

from __future__ import annotations

import pytest

from tests.agent_portal.support import CITY_PHONE, COUNTY_PHONE, build_network, sign_in


@pytest.fixture
def network(app):
    return build_network(app)


def test_sign_in_and_every_page(app, client, network):
    assert client.get("/a/").headers["Location"].endswith("/a/login")
    response = sign_in(app, client, CITY_PHONE)
    assert response.status_code == 302 and response.headers["Location"].endswith("/a/level")
    for url in ("/a/level", "/a/evaluations", "/a/merchants", "/a/members", "/a/cards", "/a/team", "/a/alerts"):
        page = client.get(url)
        assert page.status_code == 200, url
        print(url, page.get_data(as_text=True)[:0])
