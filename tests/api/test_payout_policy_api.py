"""GET/PUT /api/v1/payout-policy: finance and admin change the withdrawal, tax and bonus pool settings with a
reason (audited); bad bounds and a minimum above the daily maximum are refused in the one error shape, changing
nothing; roles without the permission are refused; a withdrawal below the new minimum is refused."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from server.extensions import db
from server.models import AuditLog
from tests.api.operator_support import assert_error, make_staffed_world, snapshot
from tests.payouts.support import make_agent

API = "/api/v1/payout-policy"


@pytest.fixture
def w(app):
    with app.app_context():
        world = make_staffed_world()
        db.session.remove()
        return world


def test_get_answers_the_defaults_and_finance_changes_them_with_a_reason(app, client, w):
    policy = client.get(API, headers=w.auth("finance"))
    assert policy.status_code == 200, policy.get_json()
    assert policy.json["withdrawal_minimum_fen"] == 10_000 and policy.json["tax_rate_bp"] == 2_000
    change = {"withdrawal_minimum_fen": 50_000, "bonus_pool_share_bp": 1_500, "reason": "提高提现门槛"}
    done = client.put(API, json=change, headers=w.auth("finance"))
    assert done.status_code == 200, done.get_json()
    assert done.json["withdrawal_minimum_fen"] == 50_000 and done.json["bonus_pool_share_bp"] == 1_500
    assert done.json["withdrawal_daily_maximum_fen"] == 5_000_000  # left out: kept
    assert client.get(API, headers=w.auth("admin")).json == done.json
    with app.app_context():
        entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "payout_policy.update"))
        assert entry.details["reason"] == "提高提现门槛"
        assert entry.details["before"] == {"withdrawal_minimum_fen": 10_000, "bonus_pool_share_bp": 1_000}
        agent = make_agent(fund_fen=100_000)
        db.session.remove()
    ask = {
        "agent_id": agent.id,
        "amount_fen": 49_999,
        "channel": "wechat",
        "payee_name": "张三",
        "account_number": "o-openid-123456",
    }
    headers = {**w.auth("finance"), "Idempotency-Key": "below-the-minimum"}
    refused = client.post("/api/v1/withdrawals", json=ask, headers=headers)
    assert assert_error(refused, 409, "withdrawal_refused")["reason"] == "minimum"


@pytest.mark.parametrize(
    "body, status, field",
    [
        ({"withdrawal_fee_bp": 10_001, "reason": "试"}, 422, "withdrawal_fee_bp"),
        ({"tax_rate_bp": 4_501, "reason": "试"}, 422, "tax_rate_bp"),
        ({"withdrawal_minimum_fen": 0, "reason": "试"}, 422, "withdrawal_minimum_fen"),
        ({"bonus_min_health_score": 101, "reason": "试"}, 422, "bonus_min_health_score"),
        ({"withdrawal_fee_fixed_fen": 1.5, "reason": "试"}, 422, "withdrawal_fee_fixed_fen"),
        ({"payout_channel": "cash", "reason": "试"}, 422, "payout_channel"),
        ({"withdrawal_minimum_fen": 20_000}, 422, "reason"),
        ({"withdrawal_minimum_fen": 20_000, "reason": "   "}, 422, "reason"),
        ({"withdrawal_minimum_fen": 6_000_000, "reason": "试"}, 422, "withdrawal_minimum_fen"),  # > daily max
        ({"withdrawal_daily_maximum_fen": 9_999, "reason": "试"}, 422, "withdrawal_minimum_fen"),  # < minimum
    ],
)
def test_bad_settings_are_refused_and_change_nothing(app, client, w, body, status, field):
    before = snapshot(app)
    refused = client.put(API, json=body, headers=w.auth("finance"))
    details = assert_error(refused, status, "invalid_request")
    assert field in str(details), details
    assert snapshot(app) == before


@pytest.mark.parametrize("role", ["support", "card_issuer", "owner", "cashier"])
def test_roles_without_the_permission_are_refused(app, client, w, role):
    before = snapshot(app)
    refused = client.put(API, json={"tax_rate_bp": 0, "reason": "免税"}, headers=w.auth(role))
    assert_error(refused, 403, "forbidden")
    assert snapshot(app) == before
