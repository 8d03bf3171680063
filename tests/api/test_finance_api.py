"""Settlement and finance report endpoints: roles and merchant scope, JSON/CSV/PDF, OpenAPI document."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from server.exports import MIMETYPES
from server.extensions import db
from server.models import AuditLog
from server.services import checkout, members
from server.services.staff import terminal_for_token
from tests.api.operator_support import API, assert_error, make_staffed_world, with_key
from tests.builders import ACTOR, make_member
from tests.clock import frozen_clock

MORNING = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 Beijing time on business day 2026-03-02
AFTER = datetime(2026, 3, 2, 20, 30, tzinfo=UTC)  # the day is over (04:30 next morning)


@pytest.fixture
def closed_world(app, client):
    """Two shops that sold on 2026-03-02, a member's points partly expired, and the day closed by finance."""
    # requests run outside the set-up's app context: a request inside one would share its ``g`` (and actor)
    with frozen_clock(MORNING) as clock:
        with app.app_context():
            staffed = make_staffed_world()
            member, card = make_member(points=300)
            for shop, amount, redeem in ((staffed.a, 10_000, 200), (staffed.a, 5_000, 0), (staffed.b, 8_000, 0)):
                terminal = terminal_for_token(shop.token)
                found = checkout.identify(terminal, code=card.card_no)
                checkout.record_sale(
                    terminal, identification_token=found.token, amount_fen=amount, redeem_points=redeem
                )
            members.adjust_points(ACTOR, member.id, 40, "goodwill")
            db.session.remove()
        clock.now = AFTER
        closing = client.post(
            f"{API}/settlements/closings",
            json={"business_day": "2026-03-02"},
            headers=with_key(staffed.auth("finance")),
        )
        assert closing.status_code == 201, closing.json
        assert closing.json["closed_now"] is True and closing.json["merchants"] == 2
        yield staffed


def test_closing_again_replays_or_reports_closed_and_needs_the_right_role(closed_world, client):
    staffed = closed_world
    headers = with_key(staffed.auth("finance"), "close-1")
    first = client.post(f"{API}/settlements/closings", json={"business_day": "2026-03-02"}, headers=headers)
    assert first.status_code == 201 and first.json["closed_now"] is False
    replay = client.post(f"{API}/settlements/closings", json={"business_day": "2026-03-02"}, headers=headers)
    assert replay.headers.get("Idempotent-Replayed") == "true"
    for role in ("owner", "support", "card_issuer", "cashier"):
        denied = client.post(
            f"{API}/settlements/closings", json={"business_day": "2026-03-02"}, headers=with_key(staffed.auth(role))
        )
        assert_error(denied, 403, "forbidden")
    future = client.post(
        f"{API}/settlements/closings", json={"business_day": "2030-01-01"}, headers=with_key(staffed.auth("admin"))
    )
    assert_error(future, 409, "conflict")
    bad = client.post(
        f"{API}/settlements/closings", json={"business_day": "2.3."}, headers=with_key(staffed.auth("admin"))
    )
    assert_error(bad, 422, "invalid_request")


def test_finance_sees_every_merchant_owners_only_their_own(closed_world, client):
    staffed = closed_world
    everything = client.get(f"{API}/settlements?day_from=2026-03-02&day_to=2026-03-02", headers=staffed.auth("finance"))
    assert everything.status_code == 200
    assert {row["merchant_id"] for row in everything.json} == {staffed.a.merchant.id, staffed.b.merchant.id}
    own = client.get(
        f"{API}/settlements?merchant_id={staffed.b.merchant.id}", headers=staffed.auth("owner")
    )  # asks for B, gets A's
    assert [row["merchant_id"] for row in own.json] == [staffed.a.merchant.id]
    a_row = own.json[0]
    assert (a_row["sales_count"], a_row["points_accepted"], a_row["points_granted"]) == (2, 200, 98 + 50)
    assert a_row["net_fen"] == 200 - 148
    b_id = next(row["id"] for row in everything.json if row["merchant_id"] == staffed.b.merchant.id)
    assert_error(client.get(f"{API}/settlements/{b_id}", headers=staffed.auth("owner")), 404, "not_found")
    assert_error(client.get(f"{API}/settlements", headers=staffed.auth("cashier")), 403, "forbidden")
    assert_error(client.get(f"{API}/reports/points", headers=staffed.auth("owner")), 403, "forbidden")
    assert_error(client.get(f"{API}/settlements"), 401, "unauthorized")
    too_long = client.get(f"{API}/settlements?day_from=2026-01-01&day_to=2026-06-30", headers=staffed.auth("finance"))
    assert_error(too_long, 422, "invalid_request")
    open_ended = client.get(f"{API}/settlements?day_from=2026-01-01", headers=staffed.auth("finance"))
    assert_error(open_ended, 422, "invalid_request")
    assert_error(client.get(f"{API}/settlements", headers=staffed.a.auth), 403, "forbidden")  # a terminal


def test_statement_as_json_csv_and_pdf(closed_world, client):
    staffed = closed_world
    listed = client.get(f"{API}/settlements", headers=staffed.auth("owner")).json
    url = f"{API}/settlements/{listed[0]['id']}"
    statement = client.get(url, headers=staffed.auth("owner")).json
    assert [line["kind"] for line in statement["lines"]] == ["sale", "sale"]
    assert sum(line["points_accepted"] for line in statement["lines"]) == statement["settlement"]["points_accepted"]
    assert sum(line["net_fen"] for line in statement["lines"]) == statement["settlement"]["net_fen"]
    assert statement["settlement"]["paid"] is False
    as_csv = client.get(f"{url}?format=csv", headers=staffed.auth("owner"))
    assert as_csv.mimetype == "text/csv" and "attachment" in as_csv.headers["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(as_csv.get_data(as_text=True).lstrip("\ufeff"))))
    assert [line["小票号"] for line in table] == [line["receipt_no"] for line in statement["lines"]]
    as_xlsx = client.get(f"{url}?format=xlsx", headers=staffed.auth("owner"))
    assert as_xlsx.mimetype == MIMETYPES["xlsx"] and as_xlsx.data.startswith(b"PK")
    by_accept = client.get(url, headers={**staffed.auth("finance"), "Accept": "application/pdf"})
    assert by_accept.mimetype == "application/pdf" and by_accept.data.startswith(b"%PDF")


def test_reports_by_merchant_day_level_and_points(closed_world, client):
    staffed = closed_world
    finance = staffed.auth("finance")
    merchants = client.get(f"{API}/reports/merchants", headers=finance).json
    assert {row["merchant_id"]: row["days"] for row in merchants} == {
        staffed.a.merchant.id: 1,
        staffed.b.merchant.id: 1,
    }
    days = client.get(f"{API}/reports/days", headers=finance).json
    assert [(row["business_day"], row["merchants"], row["sales_count"]) for row in days] == [("2026-03-02", 2, 3)]
    assert days[0]["net_fen"] == sum(row["net_fen"] for row in merchants)
    levels = client.get(f"{API}/reports/levels?day_from=2026-03-02&day_to=2026-03-02", headers=finance).json
    assert [(row["level_code"], row["sales_count"], row["points_redeemed"]) for row in levels] == [("normal", 3, 200)]
    owner_levels = client.get(f"{API}/reports/levels", headers=staffed.auth("owner")).json
    assert owner_levels[0]["sales_count"] == 2
    report = client.get(f"{API}/reports/points", headers=finance).json
    granted = 98 + 50 + 80
    assert report["points_granted"] == granted and report["points_redeemed"] == 200
    assert report["points_adjusted"] == 340
    assert report["points_outstanding"] == 300 - 200 + granted + 40
    assert report["redemption_rate_bp"] == 200 * 10_000 // (granted + 340)
    assert report["points_expired"] == 0 and report["open_lots"] == 5
    member_id = client.get(f"{API}/members", headers=finance).json[0]["id"]
    lots = client.get(f"{API}/members/{member_id}/points-lots", headers=staffed.auth("support")).json
    assert [lot["source"] for lot in lots] == ["adjustment", "sale", "sale", "sale", "adjustment"]
    assert sum(lot["remaining"] for lot in lots) == report["points_outstanding"]
    assert_error(client.get(f"{API}/members/{member_id}/points-lots", headers=staffed.auth("owner")), 403, "forbidden")
    as_csv = client.get(f"{API}/reports/merchants?format=csv", headers=finance)
    rows = list(csv.DictReader(io.StringIO(as_csv.get_data(as_text=True).lstrip("\ufeff"))))
    assert [row["商户编号"] for row in rows] == [row["merchant_id"] for row in merchants]
    by_accept = client.get(f"{API}/reports/days", headers={**finance, "Accept": "text/csv"})
    assert by_accept.mimetype == "text/csv" and "净额（元）" in by_accept.get_data(as_text=True)
    english = client.get(f"{API}/reports/days?format=csv&lang=en", headers=finance).get_data(as_text=True)
    assert "Net position (¥)" in english.splitlines()[0]
    backwards = client.get(f"{API}/reports/days?day_from=2026-03-03&day_to=2026-03-02", headers=finance)
    assert_error(backwards, 422, "invalid_request")


def test_finance_marks_a_statement_paid_and_everyone_sees_it(closed_world, client, app):
    staffed = closed_world
    listed = client.get(f"{API}/settlements", headers=staffed.auth("finance")).json
    settlement_id = listed[0]["id"]
    url = f"{API}/settlements/{settlement_id}/payment"
    paid = client.post(url, json={"paid": True, "reference": "BANK-0042"}, headers=with_key(staffed.auth("finance")))
    assert paid.status_code == 200, paid.json
    assert (paid.json["paid"], paid.json["payment_reference"]) == (True, "BANK-0042") and paid.json["paid_at"]
    again = client.post(url, json={"paid": True, "reference": "BANK-0042"}, headers=with_key(staffed.auth("admin")))
    assert again.json["paid_at"] == paid.json["paid_at"]  # the first payment time stays
    shown = client.get(f"{API}/settlements/{settlement_id}", headers=staffed.auth("finance")).json["settlement"]
    assert shown["paid"] is True and shown["payment_reference"] == "BANK-0042"
    for role in ("owner", "support", "cashier"):
        assert_error(client.post(url, json={"paid": False}, headers=with_key(staffed.auth(role))), 403, "forbidden")
    assert_error(
        client.post(url, json={"paid": "maybe"}, headers=with_key(staffed.auth("finance"))), 422, "invalid_request"
    )
    missing = client.post(
        f"{API}/settlements/stl_nope/payment", json={"paid": True}, headers=with_key(staffed.auth("finance"))
    )
    assert_error(missing, 404, "not_found")
    unpaid = client.post(url, json={"paid": False}, headers=with_key(staffed.auth("finance")))
    assert unpaid.json["paid"] is False and unpaid.json["paid_at"] is None
    with app.app_context():
        actions = db.session.scalars(
            select(AuditLog.action).where(AuditLog.object_id == settlement_id).order_by(AuditLog.id)
        ).all()
        db.session.remove()
    assert actions == ["settlement.paid", "settlement.paid", "settlement.unpaid"]


FINANCE_OPERATIONS = {
    ("/api/v1/settlements", "get"),
    ("/api/v1/settlements/{settlement_id}/payment", "post"),
    ("/api/v1/settlements/closings", "post"),
    ("/api/v1/settlements/{settlement_id}", "get"),
    ("/api/v1/reports/merchants", "get"),
    ("/api/v1/reports/days", "get"),
    ("/api/v1/reports/levels", "get"),
    ("/api/v1/reports/points", "get"),
    ("/api/v1/members/{member_id}/points-lots", "get"),
}


def test_finance_operations_are_documented(client):
    spec = client.get("/api/v1/openapi.json").json
    for path, method in FINANCE_OPERATIONS:
        operation = spec["paths"][path][method]
        assert operation["security"] == [{"personalToken": []}], (path, method)
        assert operation.get("summary"), (path, method)
        parameters = {parameter["name"] for parameter in operation.get("parameters", [])}
        assert ("Idempotency-Key" in parameters) == (method == "post"), (path, method)
        if method == "get" and "points-lots" not in path:
            assert "format" in parameters, path
            assert "text/csv" in operation["responses"]["200"]["content"], path
            assert "application/json" in operation["responses"]["200"]["content"], path
    statement = spec["paths"]["/api/v1/settlements/{settlement_id}"]["get"]["responses"]["200"]["content"]
    assert "application/pdf" in statement
    schemas = spec["components"]["schemas"]
    assert {"net_fen", "service_fee_fen", "commission_fen", "paid", "paid_at"} <= set(
        schemas["Settlement"]["properties"]
    )
    assert {"points_outstanding", "breakage_value_fen", "redemption_rate_bp"} <= set(
        schemas["PointsReport"]["properties"]
    )


def test_admin_sets_the_expiry_policy_and_cut_off_until_a_day_is_closed(app, client):
    with app.app_context():
        staffed = make_staffed_world()
        db.session.remove()
    admin = staffed.auth("admin")
    changed = client.patch(
        f"{API}/alliance",
        json={"points_expiry_policy": "months", "points_expiry_months": 18, "business_day_cutoff_hour": 5},
        headers=admin,
    )
    assert changed.status_code == 200, changed.json
    assert (changed.json["points_expiry_policy"], changed.json["points_expiry_months"]) == ("months", 18)
    assert changed.json["business_day_cutoff_hour"] == 5
    weekly = client.patch(f"{API}/alliance", json={"points_expiry_policy": "weekly"}, headers=admin)
    assert_error(weekly, 422, "invalid_request")
    by_finance = client.patch(f"{API}/alliance", json={"expiry_notice_days": 7}, headers=staffed.auth("finance"))
    assert_error(by_finance, 403, "forbidden")
    closing = client.post(
        f"{API}/settlements/closings", json={"business_day": "2026-01-05"}, headers=with_key(staffed.auth("finance"))
    )
    assert closing.status_code == 201
    moved = client.patch(f"{API}/alliance", json={"business_day_cutoff_hour": 6}, headers=admin)
    assert_error(moved, 409, "conflict")
    assert client.patch(f"{API}/alliance", json={"expiry_notice_days": 14}, headers=admin).status_code == 200
