"""The API client's transport: the environment's proxy and CA settings read once, when it is made (not
on every request); what a till is told when the server does not answer."""

from __future__ import annotations

import time

import pytest

from alliance_shared.http_client import ServerUnreachable
from pos_client.server_client import TerminalClient
from tests.stand_in import stand_in


def _terminal_info(method, path, query, body, headers):
    return 200, {"terminal": {"id": "ter_1"}}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def test_the_proxy_of_the_environment_carries_the_requests(monkeypatch):
    with stand_in(_terminal_info) as (proxy_url, through_proxy):
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        client = TerminalClient("http://alliance.invalid:8080", "tt_token")
        assert client.whoami() == {"terminal": {"id": "ter_1"}}
    (method, path, _query, _body, headers) = through_proxy[0]
    assert (method, path, headers["Host"]) == ("GET", "/api/v1/terminal", "alliance.invalid:8080")
    assert headers["Authorization"] == "Bearer tt_token"


def test_no_proxy_names_the_server_that_is_reached_directly(monkeypatch):
    with stand_in(_terminal_info) as (server_url, at_server), stand_in(_terminal_info) as (proxy_url, at_proxy):
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        TerminalClient(server_url, "tt_token").whoami()
    assert len(at_server) == 1 and at_proxy == []


def test_the_environment_is_not_read_again_for_each_request(monkeypatch, tmp_path):
    with stand_in(_terminal_info) as (server_url, at_server):
        client = TerminalClient(server_url, "tt_token")
        # set after the client was made: a dead proxy and a .netrc naming the server would both change
        # the request if the environment were read per request (a .netrc entry replaces the bearer token)
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
        netrc = tmp_path / "netrc"
        netrc.write_text("machine 127.0.0.1 login someone password secret\n")
        netrc.chmod(0o600)
        monkeypatch.setenv("NETRC", str(netrc))
        client.whoami()
    assert at_server[0][4]["Authorization"] == "Bearer tt_token"


def test_a_netrc_never_replaces_the_token(monkeypatch, tmp_path):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    with stand_in(_terminal_info) as (server_url, at_server):
        TerminalClient(server_url, "tt_token").whoami()
    assert at_server[0][4]["Authorization"] == "Bearer tt_token"


def test_the_ca_bundle_of_the_environment_is_used(monkeypatch, tmp_path):
    bundle = tmp_path / "alliance-ca.pem"
    bundle.write_text("")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    client = TerminalClient("https://alliance.invalid", "tt_token")
    assert client.pool.connection_pool_kw["ca_certs"] == str(bundle)


def test_a_dead_proxy_of_the_environment_leaves_the_till_offline(monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    client = TerminalClient("http://alliance.invalid:8080", "tt_token", retries=0)
    with pytest.raises(ServerUnreachable):
        client.whoami()


def test_a_server_that_answers_too_late_is_a_timeout():
    def slow(method, path, query, body, headers):
        time.sleep(1.0)
        return 200, {}

    with stand_in(slow) as (server_url, _seen):
        client = TerminalClient(server_url, "tt_token", timeout=0.2, retries=0)
        with pytest.raises(ServerUnreachable) as raised:
            client.whoami()
    assert raised.value.reason == "no answer in time (timeout)"


def test_a_closed_port_is_refused_not_a_timeout():
    with stand_in(_terminal_info) as (server_url, _seen):
        pass  # the stand-in is gone: nothing listens on its port any more
    with pytest.raises(ServerUnreachable) as raised:
        TerminalClient(server_url, "tt_token", retries=0).whoami()
    assert raised.value.reason == "Connection refused"
