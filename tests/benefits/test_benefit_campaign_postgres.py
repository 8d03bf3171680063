"""A campaign's budget under concurrency on PostgreSQL: 500 claim requests at once, exactly the budget granted."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from server.domain.errors import BenefitBudgetExhausted
from server.extensions import db
from server.models import BenefitCode, BenefitGrant, Member
from server.models.base import utcnow
from server.services import benefit_grants
from tests.benefits.helpers import MANAGER, vouchers
from tests.builders import make_world

pytestmark = pytest.mark.postgres

CLAIMS, BUDGET, WORKERS, PER_MEMBER = 500, 100, 24, 5


def test_a_campaign_with_a_budget_of_100_gets_exactly_100_claims_under_500_concurrent_requests(pg_app):
    with pg_app.app_context():
        make_world()
        sku = vouchers("RUSH", quantity=BUDGET + 30)
        now = utcnow()
        campaign = benefit_grants.create_campaign(
            MANAGER,
            code="RUSH",
            name="限量抢券",
            sku_id=sku.id,
            starts_at=now - timedelta(minutes=5),
            ends_at=now + timedelta(hours=1),
            total_budget=BUDGET,
            per_member_limit=PER_MEMBER,
        )
        benefit_grants.set_campaign_status(MANAGER, campaign.id, "active")
        # 100 members, each sending five claims at once (per-member limit 5)
        from tests.builders import make_member

        member_ids = [make_member(with_card=False)[0].id for _ in range(CLAIMS // PER_MEMBER)]
        campaign_id = campaign.id
        db.session.remove()
    requests = [member_id for member_id in member_ids for _ in range(PER_MEMBER)]
    granted, refused, errors = [], [], []
    lock, barrier = threading.Lock(), threading.Barrier(WORKERS)

    def worker(index):
        try:
            with pg_app.app_context():
                barrier.wait()
                for member_id in requests[index::WORKERS]:
                    try:
                        grant = benefit_grants.claim(member_id, campaign_id)
                        with lock:
                            granted.append(grant.code_id)
                    except BenefitBudgetExhausted:
                        with lock:
                            refused.append(member_id)
                    finally:
                        db.session.remove()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert len(granted) == BUDGET and len(set(granted)) == BUDGET and len(refused) == CLAIMS - BUDGET
    with pg_app.app_context():
        assert benefit_grants.get_campaign(campaign_id).remaining == 0
        assert db.session.scalar(select(func.count()).select_from(BenefitGrant)) == BUDGET
        issued = db.session.scalar(select(func.count()).where(BenefitCode.status == "issued"))
        assert issued == BUDGET
        per_member = db.session.execute(
            select(BenefitGrant.member_id, func.count()).group_by(BenefitGrant.member_id)
        ).all()
        assert max(count for _, count in per_member) <= PER_MEMBER
        assert db.session.scalar(select(func.count()).select_from(Member)) == CLAIMS // PER_MEMBER
        db.session.remove()
