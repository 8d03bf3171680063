"""Allocation under concurrency on PostgreSQL (FOR UPDATE SKIP LOCKED): the last codes go out once each."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from server.domain.errors import BenefitOutOfStock
from server.extensions import db
from server.models import BenefitCode
from server.services import benefit_imports, benefit_stock
from tests.benefits.helpers import MANAGER, csv_file, third_party
from tests.builders import make_member, make_world

pytestmark = pytest.mark.postgres


def test_twenty_concurrent_allocations_of_the_last_five_codes_issue_exactly_five_distinct_codes(pg_app):
    with pg_app.app_context():
        make_world()
        sku, _, purchase = third_party(quantity=5)
        expiry = date.today() + timedelta(days=60)
        rows = [(f"LAST{i:04d}", "S", (expiry + timedelta(days=i)).isoformat()) for i in range(5)]
        assert benefit_imports.import_file(MANAGER, purchase.id, csv_file(rows), "last.csv").rows_received == 5
        members = [make_member(with_card=False)[0].id for _ in range(20)]
        sku_id = sku.id
        db.session.remove()
    barrier = threading.Barrier(20)
    issued, refused, errors = [], [], []

    def worker(member_id):
        try:
            with pg_app.app_context():
                barrier.wait()
                try:
                    issued.extend(benefit_stock.allocate(sku_id, member_id=member_id))
                except BenefitOutOfStock:
                    refused.append(member_id)
                finally:
                    db.session.remove()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(member_id,)) for member_id in members]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len(issued) == 5 and len(set(issued)) == 5 and len(refused) == 15
    with pg_app.app_context():
        codes = db.session.scalars(select(BenefitCode)).all()
        assert {code.status for code in codes} == {"issued"}
        assert len({code.member_id for code in codes}) == 5
        db.session.remove()
