"""Two delivery workers at once on PostgreSQL (FOR UPDATE SKIP LOCKED): no event is sent twice, and each
subscription still receives its events in order."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter

import pytest

from server.extensions import db
from server.services import webhooks
from server.services.alliance import ensure_alliance
from tests.builders import ACTOR
from tests.stand_in import stand_in

pytestmark = pytest.mark.postgres
EVENTS = 12


def test_two_workers_never_deliver_the_same_event_twice(pg_app):
    def slow_ok(*_request):
        time.sleep(0.01)  # the row stays locked while its request is out: the other worker must skip it
        return 200, {}

    with stand_in(slow_ok) as (url, seen):
        with pg_app.app_context():
            ensure_alliance()
            for path in ("/a", "/b", "/c"):
                webhooks.create_subscription(ACTOR, path, url + path, ["sale.recorded"])
            for number in range(EVENTS):
                webhooks.emit(db.session, "sale.recorded", {"n": number})
            db.session.commit()
            db.session.remove()

        outcomes, errors = [], []

        def worker():
            try:
                with pg_app.app_context():
                    outcomes.append(webhooks.deliver_pending())
                    db.session.remove()
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        assert sum(outcome["delivered"] for outcome in outcomes) == 3 * EVENTS
        assert all(outcome["delivered"] > 0 for outcome in outcomes)  # both workers did a share

    deliveries = Counter(headers["X-Alliance-Delivery"] for *_rest, headers in seen)
    assert len(deliveries) == 3 * EVENTS and set(deliveries.values()) == {1}  # each delivery exactly once
    for path in ("/a", "/b", "/c"):
        order = [json.loads(body)["data"]["n"] for _method, at, _query, body, _headers in seen if at == path]
        assert order == list(range(EVENTS))  # in order for each subscription
