"""Benefits through the API: the benefits manager's catalogue and purchases, an import's report, refusals."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest

from tests.api.operator_support import API, _staff_token, assert_error, make_staffed_world, with_key

FUTURE = (date.today() + timedelta(days=200)).isoformat()


@pytest.fixture
def s(app):
    with app.app_context():
        staffed = make_staffed_world()
        staffed.tokens["benefits_manager"] = _staff_token("benefits-mgr", "benefits_manager")
        return staffed


def upload(client, auth, purchase_id, content: bytes, name="codes.csv", **query):
    return client.post(
        f"{API}/benefit-purchases/{purchase_id}/imports",
        data={"file": (io.BytesIO(content), name)},
        headers=auth,
        content_type="multipart/form-data",
        query_string=query,
    )


def test_the_benefits_manager_buys_imports_and_sees_the_stock_masked(client, s):
    manager = s.auth("benefits_manager")
    sku_body = {
        "code": "COFFEE",
        "name": "咖啡券",
        "kind": "third_party_code",
        "face_value_fen": 3000,
        "sale_price_fen": 2500,
    }
    sku = client.post(f"{API}/benefit-skus", json=sku_body, headers=with_key(manager)).json["sku"]
    supplier = client.post(f"{API}/suppliers", json={"name": "咖啡供应商"}, headers=with_key(manager)).json["supplier"]
    body = {
        "sku_id": sku["id"],
        "supplier_id": supplier["id"],
        "quantity": 3,
        "unit_cost_fen": 2000,
        "purchase_date": date.today().isoformat(),
        "source": "file_import",
    }
    purchase = client.post(f"{API}/benefit-purchases", json=body, headers=with_key(manager)).json["purchase"]
    content = f"code,secret,expiry\nCF000001,S1,{FUTURE}\nCF000001,S2,{FUTURE}\nCF00003,S3,2001-01-01\n".encode()
    refused = upload(client, manager, purchase["id"], content)
    assert refused.status_code == 201
    answer = refused.json["import"]
    assert answer["status"] == "refused" and answer["rows_received"] == 0
    assert answer["report"] == [
        {"row": 3, "reason": "duplicate_in_file", "last4": "0001"},
        {"row": 4, "reason": "expired", "last4": "0003"},
    ]
    assert "CF000001" not in refused.get_data(as_text=True)
    again = upload(client, manager, purchase["id"], content)
    assert again.json["import"]["id"] == answer["id"]  # the same file answers the same import
    good = upload(client, manager, purchase["id"], content + b"CF000004,S4,\n", all_or_nothing="false")
    assert good.json["import"]["status"] == "received" and good.json["import"]["rows_received"] == 2
    stock = client.get(f"{API}/benefit-stock", headers=manager).json
    month = FUTURE[:7]
    assert [(row["sku_code"], row["status"], row["expiry_month"], row["count"]) for row in stock] == [
        ("COFFEE", "available", month, 1),
        ("COFFEE", "available", None, 1),
    ]
    assert_error(client.get(f"{API}/benefit-stock", headers=s.auth("cashier")), 403, "forbidden")
    assert_error(client.get(f"{API}/benefit-skus", headers=s.auth("support")), 403, "forbidden")


def test_refusals_are_one_error_shape_in_chinese_and_change_nothing(client, s):
    manager = s.auth("benefits_manager")
    voucher = {"code": "V10", "name": "10元券", "kind": "voucher_cash", "face_value_fen": 1000, "sale_price_fen": 0}
    no_funder = client.post(f"{API}/benefit-skus", json=voucher | {"valid_days": 30}, headers=with_key(manager))
    assert_error(no_funder, 422, "invalid_request")
    assert no_funder.json["message"] == "券需要出资方：联盟、核销商家或赞助商家。"
    assert client.get(f"{API}/benefit-skus", headers=manager).json == []
    missing = upload(client, manager, "bpu_nope", b"code,secret\nAAAA1111,S\n")
    assert_error(missing, 404, "not_found")
    made = client.post(
        f"{API}/benefit-skus", json=voucher | {"funder": "alliance", "valid_days": 30}, headers=with_key(manager)
    )
    body = {"sku_id": made.json["sku"]["id"], "quantity": 2, "purchase_date": date.today().isoformat()}
    generated = client.post(f"{API}/benefit-purchases", json=body | {"source": "generated"}, headers=with_key(manager))
    assert generated.json["purchase"]["status"] == "received" and generated.json["purchase"]["received_count"] == 2
    not_a_file = upload(client, manager, generated.json["purchase"]["id"], b"\xff\xfe\x00garbage")
    assert_error(not_a_file, 409, "conflict")  # a generated purchase takes no file
