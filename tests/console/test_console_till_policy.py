"""The till policy on the console's alliance settings page: spending points needs the member's proof."""

from __future__ import annotations

from server.extensions import db
from server.models import AllianceSettings
from tests.builders import make_world
from tests.console.support import make_console_users, page_text, post_form, sign_in

PAGE, ACTION = "/console/alliance", "/console/alliance/points-policy"
POLICY = {
    "points_expiry_policy": "year_end",
    "points_expiry_months": "24",
    "expiry_notice_days": "30",
    "business_day_cutoff_hour": "4",
}


def proof_required(app) -> bool:
    with app.app_context():
        value = db.session.get(AllianceSettings, 1).spend_requires_proof
        db.session.remove()
    return value


def test_an_admin_turns_the_member_proof_policy_off_and_on(app, client):
    with app.app_context():
        make_console_users(make_world(spend_requires_proof=True))
        db.session.remove()
    assert sign_in(client, "c-admin").status_code == 302
    html = page_text(client.get(PAGE))
    assert (
        "使用积分须会员本人验证" in html and '<input checked class="form-check-input" id="spend_requires_proof"' in html
    )
    assert post_form(client, PAGE, ACTION, POLICY).status_code == 302  # unticked
    assert proof_required(app) is False
    assert post_form(client, PAGE, ACTION, {**POLICY, "spend_requires_proof": "y"}).status_code == 302
    assert proof_required(app) is True
    finance = app.test_client()
    assert sign_in(finance, "c-finance").status_code == 302
    shown = page_text(finance.get(PAGE))
    assert 'name="spend_requires_proof"' not in shown and "使用积分须会员本人验证" in shown
