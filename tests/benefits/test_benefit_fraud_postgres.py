"""The claim budget under concurrency on PostgreSQL: 50 claims at once by one member (campaign claims and points
exchanges mixed) with a budget of 3 get exactly 3 grants; the rest are refused and change nothing."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from server.domain.errors import BenefitLimitReached
from server.extensions import db
from server.models import BenefitCode, BenefitCounter, BenefitGrant
from server.models.base import utcnow
from server.services import benefit_fraud, benefit_grants
from tests.benefits.helpers import MANAGER, vouchers
from tests.builders import make_member, make_world

pytestmark = pytest.mark.postgres

REQUESTS, BUDGET, WORKERS = 50, 3, 10


def test_fifty_concurrent_claims_by_one_member_with_a_budget_of_three_grant_exactly_three(pg_app):
    with pg_app.app_context():
        make_world()
        sku = vouchers("BURST", quantity=60, points_price=1)
        now = utcnow()
        campaign = benefit_grants.create_campaign(
            MANAGER,
            code="BURST",
            name="风控并发",
            sku_id=sku.id,
            starts_at=now - timedelta(minutes=5),
            ends_at=now + timedelta(hours=1),
            total_budget=100,
            per_member_limit=100,
        )
        benefit_grants.set_campaign_status(MANAGER, campaign.id, "active")
        member, _ = make_member(points=1_000, with_card=False)
        benefit_fraud.update_limits(MANAGER.key, {"claim:member:hour": BUDGET})
        member_id, campaign_id, sku_id = member.id, campaign.id, sku.id
        db.session.remove()

    def one_claim(index):
        origin = {"device": f"dev_{index % 4}", "ip": "192.0.2.10"}
        if index % 2:
            return benefit_grants.claim(member_id, campaign_id, origin=origin)
        return benefit_grants.exchange_points(member_id, sku_id, f"burst-{index}", origin=origin)

    granted, refused, errors = [], [], []
    lock, barrier = threading.Lock(), threading.Barrier(WORKERS)

    def worker(offset):
        try:
            with pg_app.app_context():
                barrier.wait()
                for index in range(offset, REQUESTS, WORKERS):
                    try:
                        grant = one_claim(index)
                        with lock:
                            granted.append(grant.code_id)
                    except BenefitLimitReached:
                        with lock:
                            refused.append(index)
                    finally:
                        db.session.remove()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(offset,)) for offset in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert len(granted) == BUDGET and len(set(granted)) == BUDGET and len(refused) == REQUESTS - BUDGET
    with pg_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(BenefitGrant)) == BUDGET
        assert db.session.scalar(select(func.count()).where(BenefitCode.status == "issued")) == BUDGET
        assert benefit_grants.get_campaign(campaign_id).remaining == 100 - sum(
            1 for grant in db.session.scalars(select(BenefitGrant)) if grant.campaign_id
        )
        member_counts = db.session.scalars(
            select(BenefitCounter.count).where(
                BenefitCounter.action == "claim", BenefitCounter.subject_kind == "member"
            )
        ).all()
        assert sorted(member_counts) == [BUDGET, BUDGET]  # this hour and this day: refused claims gave theirs back
        device_total = db.session.scalar(
            select(func.sum(BenefitCounter.count)).where(
                BenefitCounter.subject_kind == "device", BenefitCounter.period.contains("T")
            )
        )
        assert device_total == BUDGET
        db.session.remove()
