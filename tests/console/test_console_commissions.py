"""The console's commission pages: the policy editor with its compliance switch, the entries and report, the
regulator's audit export, and the agent detail's pending / available / paid / debt."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from sqlalchemy import select

from server.extensions import db
from server.models import AuditLog, Commission, CommissionPolicy
from server.services import commissions
from tests.console.support import build_console_world, page_text, post_form, seed_agents, sign_in


@pytest.fixture
def scene(app, client):
    scene = build_console_world(app, client)
    with app.app_context():
        scene.ids = seed_agents(scene)
        commissions.policy_row()
        db.session.add(
            Commission(
                sale_id=scene.sale_id,
                merchant_id=scene.world.shop_a.merchant.id,
                business_day=date(2026, 3, 2),
                beneficiary_kind="agent",
                beneficiary_id=scene.ids["agent_id"],
                role="servicing",
                depth=0,
                policy_version=1,
                base_fen=18_000,
                rate_bp=500,
                amount_fen=900,
                reversed_fen=0,
                earned_fen=900,
                funded_by="merchant",
                status="pending",
                available_on=date(2026, 3, 9),
            )
        )
        db.session.commit()
        db.session.remove()
    return scene


def test_the_policy_editor_refuses_management_without_an_acknowledgement_then_records_it(scene, app, client):
    assert sign_in(client, "c-admin").status_code == 302
    page = page_text(client.get("/console/commission-policy"))
    assert "分润政策" in page and "禁止传销条例" in page and "区域管理费" in page
    form = {
        "base": "paid",
        "funding": "on_top",
        "envelope": "30",
        "recruiter_rate": "1",
        "member_recruiter_rate": "0",
        "return_window_days": "7",
        "regional_fee": "0.5",
        "management_enabled": "y",
        "management_rate": "5",
        "management_depth": "1",
        "reason": "试点",
    }
    refused = post_form(client, "/console/commission-policy", "/console/commission-policy", form)
    assert refused.status_code in (200, 422) and "确认知悉其法律风险" in page_text(refused)
    with app.app_context():
        assert db.session.scalar(select(CommissionPolicy.version).order_by(CommissionPolicy.version.desc())) == 1
    form["acknowledgement"] = "已咨询法律顾问，知悉风险"
    done = post_form(client, "/console/commission-policy", "/console/commission-policy", form)
    assert done.status_code == 302
    page = page_text(client.get("/console/commission-policy"))
    assert "管理津贴（团队计酬）已开启" in page and "已咨询法律顾问" in page
    with app.app_context():
        latest = db.session.scalar(select(CommissionPolicy).order_by(CommissionPolicy.version.desc()).limit(1))
        assert (latest.version, latest.regional_fee_bp, latest.management_enabled) == (2, 50, True)
        actions = set(db.session.scalars(select(AuditLog.action)))
        assert "commission_policy.management_acknowledged" in actions
        db.session.remove()
    audit = page_text(client.get("/console/audit"))
    assert "开启了管理津贴" in audit


def test_entries_report_export_and_agent_balances(scene, client):
    assert sign_in(client, "c-finance").status_code == 302
    page = page_text(client.get("/console/commissions"))
    assert "按代理、等级、区域和角色汇总" in page and "服务代理" in page and "¥9.00" in page
    export = client.get("/console/commissions/audit.csv")
    rows = list(csv.reader(io.StringIO(export.get_data(as_text=True).lstrip("\ufeff"))))
    assert {"受益人", "角色", "层级", "计提基数（元）", "比例", "政策版本"} <= set(rows[0])
    assert rows[1][7] == "servicing" and rows[1][11] == "1"
    assert client.get("/console/commissions/report.xlsx").status_code == 200
    detail = page_text(client.get(f"/console/agents/{scene.ids['agent_id']}"))
    assert "分润资金" in detail and "待结算" in detail and "可提现" in detail and "欠款" in detail
    assert client.get("/console/commissions?period=2026-13").status_code == 200
