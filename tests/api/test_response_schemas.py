"""Every answer is the declared schema: each view declares its response schema and the body is its dump.

Two checks. Structurally, every view of server/api declares one success response with a schema (file
downloads aside), so flask-smorest dumps what a view returns, and ``idempotent`` dumps the work's result
with that same declared schema before it stores the body. Behaviourally, one realistic call of every
operation in the OpenAPI document (a terminal's day and an operator's tasks on a small alliance) answers
2xx with a body that validates against the schema the document shows for it, strictly: no undocumented
key, no documented key missing. An idempotent POST sent again with its key answers the same bytes.
"""

from __future__ import annotations

import copy
import io
import json
import time
from datetime import UTC, date, datetime, timedelta

import pytest
from flask.views import MethodView

from server.domain.benefit_channels import partner_signature
from server.extensions import db
from server.services import (
    benefit_catalog,
    benefit_grants,
    benefit_imports,
    benefit_stock,
    cards,
    members,
    regions,
    webhooks,
)
from server.services.jobs import run_job
from tests.api.operator_support import API, make_staffed_world, with_key
from tests.benefit_ops_support import make_purchase, make_sku, make_supplier
from tests.benefits.helpers import MANAGER
from tests.builders import make_member, next_phone
from tests.member.support import last_login_code
from tests.stand_in import stand_in

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
PARTIAL_RULES = ("anyOf", "oneOf", "allOf", "not")
# operations whose success body is not JSON (the document says so: no JSON content)
NOT_JSON = {("/api/v1/merchants/{merchant_id}/poster", "get")}
PHONE = "13912340001"
CHIP = "04A1B2C3"


def api_views(app):
    """(rule, method, view function) of every API operation (the OpenAPI document and its UI aside)."""
    for rule in app.url_map.iter_rules():
        view_class = getattr(app.view_functions[rule.endpoint], "view_class", None)
        if not rule.rule.startswith(API) or view_class is None:
            continue
        assert issubclass(view_class, MethodView), rule.rule
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.rule, method.lower(), getattr(view_class, method.lower())


def openapi_path(rule: str) -> str:
    """/api/v1/sales/<sale_id> → /api/v1/sales/{sale_id} (converters dropped)."""
    parts = []
    for part in rule.split("/"):
        if part.startswith("<") and part.endswith(">"):
            part = "{" + part[1:-1].rsplit(":", 1)[-1] + "}"
        parts.append(part)
    return "/".join(parts)


def test_every_api_view_declares_one_success_response_with_a_schema(app):
    seen = []
    for rule, method, function in api_views(app):
        operation = (openapi_path(rule), method)
        seen.append(operation)
        apidoc = getattr(function, "_apidoc", {})
        statuses = apidoc.get("success_status_codes", [])
        assert len(statuses) == 1, f"{method.upper()} {rule} declares {statuses} success responses"
        (declared,) = apidoc["response"]["responses"][statuses[0]]
        if operation in NOT_JSON:
            assert declared.get("schema") is None
            continue
        assert declared.get("schema") is not None, f"{method.upper()} {rule} declares no response schema"
    assert len(seen) > 60 and set(seen) >= NOT_JSON


def strict(node):
    """A copy of a JSON schema in which every object with properties has exactly those (all present)."""
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    # anyOf / oneOf / allOf / not hold partial rules over the same object (cross-field rules): kept as written
    node = {name: value if name in PARTIAL_RULES else strict(value) for name, value in node.items()}
    if "properties" in node and node.get("type", "object") == "object":
        node.setdefault("additionalProperties", False)
        node.setdefault("required", sorted(node["properties"]))
    return node


class Contract:
    """Sends calls through the test client and checks each answer against the OpenAPI document."""

    def __init__(self, app, client):
        validator = pytest.importorskip("openapi_schema_validator")
        self.validator_class = validator.OAS30Validator
        self.app, self.client = app, client
        self.spec = client.get(f"{API}/openapi.json").json
        self.components = strict(copy.deepcopy(self.spec["components"]))
        self.covered: set[tuple[str, str]] = set()

    def operations(self) -> set[tuple[str, str]]:
        return {
            (path, method)
            for path, item in self.spec["paths"].items()
            for method in item
            if method in HTTP_METHODS and (path, method) not in NOT_JSON
        }

    def call(self, method: str, template: str, auth: dict, body=None, *, idempotent=False, query=None, **ids):
        """Send the request; check status, body and (for idempotent POSTs) the replay; return the JSON."""
        headers = with_key(auth) if idempotent else auth
        path = API + template.format(**ids)
        send = getattr(self.client, method)
        response = send(path, json=body, headers=headers, query_string=query)
        assert 200 <= response.status_code < 300, (method, path, response.status_code, response.get_json())
        self.validate(API + template, method, response)
        if idempotent:
            again = send(path, json=body, headers=headers, query_string=query)
            assert again.headers.get("Idempotent-Replayed") == "true", (method, path)
            assert (again.status_code, again.get_data()) == (response.status_code, response.get_data())
        return response.get_json()

    def validate(self, template: str, method: str, response) -> None:
        operation = self.spec["paths"][template][method]
        declared = operation["responses"].get(str(response.status_code))
        assert declared is not None, f"{method.upper()} {template} answered an undocumented {response.status_code}"
        assert response.mimetype == "application/json"
        schema = strict(declared["content"]["application/json"]["schema"])
        validator = self.validator_class({**schema, "components": self.components})
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(response.json)]
        assert not errors, f"{method.upper()} {template}: {errors}"
        self.covered.add((template, method))


def test_every_operation_answers_its_declared_schema(app, client):
    contract = Contract(app, client)
    with app.app_context():
        staffed = make_staffed_world()
        member, card = make_member(points=1_000, phone=PHONE)
        spare = [found.card_no for found in members.create_cards("test:contract", 4)]
        level = staffed.levels["gold"]
        level_id, gold_discount = level.id, level.default_discount_bp
        voucher_sku = benefit_catalog.create_sku(
            MANAGER,
            code="CONTRACT-CASH",
            name="5元代金券",
            kind="voucher_cash",
            face_value_fen=500,
            funder="alliance",
            valid_days=30,
        )
        purchase = benefit_catalog.create_purchase(
            MANAGER,
            sku_id=voucher_sku.id,
            quantity=1,
            source="generated",
            purchase_date=date(2026, 12, 1),
        )
        benefit_imports.generate_vouchers(MANAGER, purchase.id)
        [voucher_id] = benefit_stock.allocate(voucher_sku.id, member_id=member.id)
        db.session.remove()
    till, admin = staffed.world.shop_a.auth, staffed.auth("admin")
    call = contract.call

    # a terminal's day: who am I, identify, quote, sell, prove, look up, refund, report a refused sale
    call("get", "/terminal", till)
    token = call("post", "/identify", till, {"code": card.card_no})["identification"]["token"]
    with_voucher = {"identification_token": token, "amount_fen": 10_000, "redeem_points": 100, "voucher_id": voucher_id}
    call("post", "/sales/quote", till, with_voucher)
    sale = call("post", "/sales", till, with_voucher, idempotent=True)["sale"]
    assert sale["voucher"]["id"] == voucher_id
    by_phone = call("post", "/identify", till, {"phone": PHONE})["identification"]["token"]
    call("post", "/identifications/{token}/proof-code", till, {}, token=by_phone)
    with app.app_context():
        code = last_login_code(PHONE)
    call("post", "/identifications/{token}/proof", till, {"code": code}, token=by_phone)
    binding = {"identification_token": by_phone}  # a new card handed out to the proven member
    call("post", "/cards/{card_no}/binding", till, binding, idempotent=True, card_no=spare[3])
    call("get", "/sales", till, query={"receipt_no": sale["receipt_no"]})
    call("get", "/sales/{sale_id}", till, sale_id=sale["id"])
    call("post", "/sales/{sale_id}/refunds", till, {"amount_fen": 1_000}, idempotent=True, sale_id=sale["id"])
    rejected = call(
        "post",
        "/sales/rejected",
        till,
        {
            "client_sale_id": "pos-1-0001",
            "amount_fen": 9_000,
            "payable_fen": 9_000,
            "error_code": "member_not_found",
            "occurred_at": "2026-03-02T09:00:00+00:00",
        },
    )["rejected_sale"]
    call("get", "/sales/rejected", admin)
    call(
        "post", "/sales/rejected/{rejected_id}/resolve", admin, {"resolution": "re-entered"}, rejected_id=rejected["id"]
    )

    # merchants, their level discounts and terminals
    call("get", "/merchants", admin)
    merchant = call("post", "/merchants", admin, {"name": "丙店", "trade": "food"}, idempotent=True)["merchant"]
    call("get", "/merchants/{merchant_id}", admin, merchant_id=merchant["id"])
    call("patch", "/merchants/{merchant_id}", admin, {"address": "一号路"}, merchant_id=merchant["id"])
    call("get", "/merchants/{merchant_id}/level-discounts", admin, merchant_id=merchant["id"])
    call(
        "put",
        "/merchants/{merchant_id}/level-discounts/{level_id}",
        admin,
        {"discount_bp": gold_discount},
        merchant_id=merchant["id"],
        level_id=level_id,
    )
    call("get", "/merchants/{merchant_id}/terminals", admin, merchant_id=merchant["id"])
    issued = call(
        "post",
        "/merchants/{merchant_id}/terminals",
        admin,
        {"name": "二号台"},
        idempotent=True,
        merchant_id=merchant["id"],
    )
    terminal_id = issued["terminal"]["id"]
    call("get", "/terminals/{terminal_id}", admin, terminal_id=terminal_id)
    call("post", "/terminals/{terminal_id}/token", admin, {}, idempotent=True, terminal_id=terminal_id)
    call("patch", "/terminals/{terminal_id}", admin, {"status": "disabled"}, terminal_id=terminal_id)

    # levels
    call("get", "/levels", admin)
    created = call(
        "post",
        "/levels",
        admin,
        {"code": "black", "name": "黑卡", "rank": 9, "upgrade_spend_fen": 10_000_000, "default_discount_bp": 8_000},
        idempotent=True,
    )["level"]
    call("post", "/levels/evaluations", admin, {}, idempotent=True)
    call("get", "/levels/{level_id}", admin, level_id=created["id"])
    call("patch", "/levels/{level_id}", admin, {"name": "黑金卡"}, level_id=created["id"])

    # members, their cards and points
    call("get", "/members", admin)
    joined = call("post", "/members", admin, {"phone": next_phone(), "display_name": "新会员"}, idempotent=True)
    new_id = joined["member"]["id"]
    call("post", "/members/search", admin, {"phone": PHONE})
    call("get", "/members/{member_id}", admin, member_id=new_id)
    call("get", "/members/{member_id}/phone", admin, member_id=new_id)
    call("post", "/members/{member_id}/cards", admin, {"card_no": spare[0]}, idempotent=True, member_id=new_id)
    adjustment = {"points": 50, "reason": "goodwill"}
    call("post", "/members/{member_id}/points-adjustments", admin, adjustment, idempotent=True, member_id=new_id)
    call("get", "/members/{member_id}/ledger", admin, member_id=member.id)
    call("get", "/members/{member_id}/points-lots", admin, member_id=member.id)

    # cards: stock, batches and chip encoding, lifecycle
    call("get", "/cards", admin)
    stock = call("post", "/cards", admin, {"count": 2}, idempotent=True)["cards"]
    call("get", "/cards/{card_id}", admin, card_id=stock[0]["id"])
    call("get", "/card-batches", admin)
    batch = call("post", "/card-batches", admin, {"count": 2, "level": "gold"}, idempotent=True)["batch"]
    call("get", "/card-batches/{batch_id}", admin, batch_id=batch["id"])
    call("get", "/card-batches/{batch_id}/cards", admin, batch_id=batch["id"])
    call("put", "/card-batches/{batch_id}/chips/{uid}", admin, batch_id=batch["id"], uid=CHIP)
    call("put", "/card-batches/{batch_id}/chips/{uid}/confirmation", admin, batch_id=batch["id"], uid=CHIP)
    call("get", "/chips/{uid}/keys", admin, uid=CHIP)
    call("get", "/card-alerts", admin)
    call("get", "/cards/by-number/{card_no}", admin, card_no=spare[0])
    for action in ("freeze", "unfreeze", "lost"):
        call(
            "post",
            f"/cards/by-number/{{card_no}}/{action}",
            admin,
            {"reason": "test"},
            idempotent=True,
            card_no=spare[0],
        )
    call(
        "post",
        "/cards/by-number/{card_no}/replace",
        admin,
        {"new_card_no": spare[1]},
        idempotent=True,
        card_no=spare[0],
    )
    call("post", "/cards/by-number/{card_no}/cancel", admin, {"reason": "test"}, idempotent=True, card_no=spare[2])

    # the ledger, staff and the alliance
    accounts = call("get", "/ledger/accounts", admin)
    call("get", "/ledger/accounts/{account_id}/entries", admin, account_id=accounts[0]["id"])
    call("get", "/ledger/transactions", admin)
    call("get", "/staff", admin)
    user = call("post", "/staff", admin, {"username": "support-2", "role": "support"}, idempotent=True)["staff_user"]
    call("post", "/staff/{user_id}/tokens", admin, {"name": "laptop"}, idempotent=True, user_id=user["id"])
    call("get", "/alliance", admin)
    call("patch", "/alliance", admin, {"expiry_notice_days": 14})

    # settlement and reports
    day = (date.today() - timedelta(days=2)).isoformat()
    call("post", "/settlements/closings", admin, {"business_day": day}, idempotent=True)
    settlements = call("get", "/settlements", admin)
    settlement_id = settlements[0]["id"]
    call("get", "/settlements/{settlement_id}", admin, settlement_id=settlement_id)
    call(
        "post",
        "/settlements/{settlement_id}/payment",
        admin,
        {"paid": True, "reference": "T-1"},
        idempotent=True,
        settlement_id=settlement_id,
    )
    for report in ("merchants", "days", "levels", "points"):
        call("get", f"/reports/{report}", admin)

    # the agent network: regions, agents, levels, evaluations, alerts, the policy
    with app.app_context():
        regions.load_regions()
        db.session.remove()
    call("get", "/regions", admin, query={"parent": "440300"})
    body = {"kind": "person", "name": "市代理", "phone": next_phone()}
    agent = call("post", "/agents", admin, body, idempotent=True)["agent"]
    call("get", "/agents", admin)
    consign = {"agent_id": agent["id"]}
    call("post", "/card-batches/{batch_id}/consignments", admin, consign, batch_id=batch["id"])
    call("get", "/card-batches/{batch_id}/consignments", admin, batch_id=batch["id"])
    call("get", "/agents/{agent_id}", admin, agent_id=agent["id"])
    call("patch", "/agents/{agent_id}", admin, {"status": "active", "status_reason": "签约"}, agent_id=agent["id"])
    agent_levels = call("get", "/agent-levels", admin)
    call("get", "/agent-levels/{level_id}", admin, level_id=agent_levels[0]["id"])
    call("patch", "/agent-levels/{level_id}", admin, {"name": "新手代理"}, level_id=agent_levels[0]["id"])
    diamond = {"code": "diamond", "rank": 9, "name": "钻石", "commission_rate_bp": 2000}
    call("post", "/agent-levels", admin, diamond, idempotent=True)
    last_month = (date.today().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    call("post", "/agent-evaluations", admin, {"period": last_month}, idempotent=True)
    call("get", "/agents/{agent_id}/evaluations", admin, agent_id=agent["id"])
    call("get", "/agent-alerts", admin)
    call("get", "/agent-policy", admin)
    call("patch", "/agent-policy", admin, {"grace_periods": 2})

    # anti-brushing: the rules, a scan, the flags and their review; complaints and violations
    for _ in range(2):  # the card's sales at shop A: more than one a day trips the tightened burst rule
        token = call("post", "/identify", till, {"code": card.card_no})["identification"]["token"]
        call("post", "/sales", till, {"identification_token": token, "amount_fen": 2_000}, idempotent=True)
    shop_a_id = call("get", "/terminal", till)["merchant"]["id"]
    rules = call("get", "/brushing-rules", admin)
    burst = next(rule for rule in rules if rule["code"] == "same_card_burst")
    tighter = {"parameters": {"max_sales": 1, "minutes": 1440}}
    call("patch", "/brushing-rules/{rule_id}", admin, tighter, rule_id=burst["id"])
    assert call("post", "/brushing-scans", admin, idempotent=True)["flagged"] >= 1
    flag = call("get", "/brushing-flags", admin, query={"status": "open"})[0]
    call("get", "/brushing-flags/{flag_id}", admin, flag_id=flag["id"])
    review = {"status": "confirmed", "reason": "同卡刷单"}
    call("patch", "/brushing-flags/{flag_id}", admin, review, flag_id=flag["id"])
    complaint_body = {"summary": "服务态度差", "merchant_id": shop_a_id}
    complaint = call("post", "/complaints", admin, complaint_body, idempotent=True)["complaint"]
    call("get", "/complaints", admin)
    answer = {"status": "responded", "response": "已致歉"}
    call("patch", "/complaints/{complaint_id}", admin, answer, complaint_id=complaint["id"])
    violation = {"agent_id": agent["id"], "description": "未按规定公示价格"}
    call("post", "/agent-violations", admin, violation, idempotent=True)
    call("get", "/agent-violations", admin, query={"agent_id": agent["id"]})

    # benefits: a supplier, a third party's SKU, a purchase and its import; generated vouchers; the stock
    supplier_body = {"name": "星河卡券", "contact_name": "王经理", "terms": "月结", "payment_days": 30}
    supplier = call("post", "/suppliers", admin, supplier_body, idempotent=True)["supplier"]
    call("get", "/suppliers", admin)
    video = {
        "code": "VIDEO-M",
        "name": "视频月卡",
        "kind": "third_party_code",
        "face_value_fen": 2500,
        "sale_price_fen": 1990,
    }
    sku = call("post", "/benefit-skus", admin, video, idempotent=True)["sku"]
    bought = {
        "sku_id": sku["id"],
        "supplier_id": supplier["id"],
        "quantity": 2,
        "unit_cost_fen": 1800,
        "invoice_number": "INV-1",
        "purchase_date": date.today().isoformat(),
        "source": "file_import",
    }
    purchase = call("post", "/benefit-purchases", admin, bought, idempotent=True)["purchase"]
    codes = b"code,secret,expiry\nVM00000001,S1,\nVM00000002,S2,2099-01-31\n"
    uploaded = client.post(
        f"{API}/benefit-purchases/{purchase['id']}/imports",
        data={"file": (io.BytesIO(codes), "codes.csv")},
        headers=admin,
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 201, uploaded.get_json()
    contract.validate(API + "/benefit-purchases/{purchase_id}/imports", "post", uploaded)
    assert uploaded.get_json()["import"]["rows_received"] == 2
    cash = {"code": "CASH10", "name": "10元代金券", "kind": "voucher_cash", "face_value_fen": 1000, "sale_price_fen": 0}
    voucher = call("post", "/benefit-skus", admin, cash | {"funder": "alliance", "valid_days": 30}, idempotent=True)
    made = {"sku_id": voucher["sku"]["id"], "quantity": 3, "purchase_date": date.today().isoformat()}
    call("post", "/benefit-purchases", admin, made | {"source": "generated"}, idempotent=True)
    call("get", "/benefit-skus", admin)
    assert sum(row["count"] for row in call("get", "/benefit-stock", admin)) == 6  # and the voucher sold above

    # benefits: the stock alerts the jobs raised and a supplier's month with a difference
    with app.app_context():
        supplier = make_supplier("对账供应商")
        sku = make_sku("视频月卡", threshold=5, near_expiry_days=0)
        make_purchase(supplier, sku, 10, 1_500, date(2026, 11, 3), invoice_number="INV-7")  # nothing received
        run_job("benefit-stock-alerts")
        supplier_id = supplier.id
        db.session.remove()
    assert call("get", "/benefit-alerts", admin, query={"status": "open"})[0]["kind"] == "low_stock"
    month = call("get", "/supplier-reconciliations", admin, query={"supplier": supplier_id, "month": "2026-11"})
    assert month["total"]["bought"] == 10 and month["differences"]
    # commissions: the policy (a new version), the entries, an agent's balances
    call("put", "/commission-policy", admin, {"recruiter_rate_bp": 150, "reason": "试行"})
    call("get", "/commission-policy", admin)
    call("get", "/commissions", admin, query={"status": "pending"})
    call("get", "/agents/{agent_id}/balance", admin, agent_id=agent["id"])

    # withdrawals (提现) and the bonus pool
    with app.app_context():
        from tests.payouts.support import fund

        fund(agent["id"], 100_000)
        db.session.remove()
    ask = {"agent_id": agent["id"], "amount_fen": 20_000, "channel": "wechat", "payee_name": "张三"}
    ask["account_number"] = "o-openid-123456"
    first = call("post", "/withdrawals", admin, ask, idempotent=True)["withdrawal"]
    second = call("post", "/withdrawals", admin, ask, idempotent=True)["withdrawal"]
    call("post", "/withdrawals/{withdrawal_id}/approve", admin, withdrawal_id=first["id"])
    reason = {"reason": "收款账户有误"}
    call("post", "/withdrawals/{withdrawal_id}/reject", admin, reason, withdrawal_id=second["id"])
    call("get", "/withdrawals", admin, query={"agent_id": agent["id"]})
    call("post", "/bonus-pools/{period}/distribution", admin, {"action": "distribute"}, period=last_month)
    call("get", "/bonus-pools", admin)
    change = {"withdrawal_minimum_fen": 5_000, "withdrawal_fee_fixed_fen": 100, "reason": "降低提现门槛"}
    assert call("put", "/payout-policy", admin, change)["withdrawal_minimum_fen"] == 5_000
    call("get", "/payout-policy", admin)
    # webhooks: subscribe a local receiver, an event delivered to it, the log, a replay; pause, delete
    with stand_in(lambda *request: (200, {})) as (receiver_url, _seen):
        body = {"name": "ERP", "url": receiver_url, "event_types": ["card.blocked"]}
        hook = call("post", "/webhook-subscriptions", admin, body, idempotent=True)["webhook_subscription"]
        call("get", "/webhook-subscriptions", admin)
        with app.app_context():
            cards.freeze("test:contract", spare[1], "lost")
            assert webhooks.deliver_pending()["delivered"] == 1
            db.session.remove()
        delivery = call("get", "/webhook-deliveries", admin, query={"subscription_id": hook["id"]})[0]
        call("post", "/webhook-deliveries/{delivery_id}/replay", admin, idempotent=True, delivery_id=delivery["id"])
    call("patch", "/webhook-subscriptions/{subscription_id}", admin, {"active": False}, subscription_id=hook["id"])
    call("delete", "/webhook-subscriptions/{subscription_id}", admin, subscription_id=hook["id"])

    # benefit distribution: a campaign, a batch grant (dry run, then for real), the grants, a partner's grant
    now = datetime.now(UTC)
    campaign_body = {
        "code": "WINTER",
        "name": "冬季领券",
        "sku_id": voucher["sku"]["id"],
        "starts_at": (now - timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(days=7)).isoformat(),
        "total_budget": 100,
        "per_member_limit": 1,
    }
    campaign = call("post", "/benefit-campaigns", admin, campaign_body, idempotent=True)["campaign"]
    call("patch", "/benefit-campaigns/{campaign_id}", admin, {"status": "active"}, campaign_id=campaign["id"])
    call("get", "/benefit-campaigns", admin)
    for dry_run in ("true", "false"):
        batch = client.post(
            f"{API}/benefit-grant-batches",
            query_string={"sku_id": voucher["sku"]["id"], "dry_run": dry_run},
            data={"file": (io.BytesIO(f"phone\n{PHONE}\n13800000000\n".encode()), "list.csv")},
            headers=admin,
            content_type="multipart/form-data",
        )
        assert batch.status_code == 201, batch.get_json()
        contract.validate(API + "/benefit-grant-batches", "post", batch)
    assert batch.get_json()["granted"] == 1
    with app.app_context():
        partner, secret = benefit_grants.create_partner(MANAGER, "合作银行", [voucher["sku"]["id"]])
        partner_key = partner.key_id
        db.session.remove()
    raw = json.dumps({"request_id": "bank-1", "phone": PHONE, "sku_id": voucher["sku"]["id"]}).encode()
    stamp, nonce = str(int(time.time())), "nonce-contract-1"
    signature = partner_signature(secret, "POST", "/api/v1/partner/benefit-grants", stamp, nonce, raw)
    signed = {
        "X-Partner-Key": partner_key,
        "X-Partner-Timestamp": stamp,
        "X-Partner-Nonce": nonce,
        "X-Partner-Signature": signature,
    }
    granted = client.post(f"{API}/partner/benefit-grants", data=raw, headers=signed, content_type="application/json")
    assert granted.status_code == 201, granted.get_json()
    contract.validate(API + "/partner/benefit-grants", "post", granted)
    assert len(call("get", "/benefit-grants", admin, query={"channel": "batch"})) == 1

    missing = contract.operations() - contract.covered
    assert not missing, f"operations without a realistic call here: {sorted(missing)}"


def test_the_terminal_reads_what_get_terminal_declares(app, client):
    with app.app_context():
        staffed = make_staffed_world()
        db.session.remove()
    contract = Contract(app, client)
    info = contract.call("get", "/terminal", staffed.world.shop_a.auth)
    assert info["server_time"].endswith("+00:00")
    assert set(info) == {
        "terminal",
        "merchant",
        "alliance",
        "receipts",
        "refunds",
        "offline_limits",
        "offline_pricing",
        "server_time",
    }
