"""run_idempotent: a refusal that keeps its own changes (e.g. a clone being blocked) leaves the key unused."""

import pytest
from sqlalchemy import func, select

from server.domain.errors import CardStale
from server.extensions import db
from server.models import AuditLog, IdempotencyRecord
from server.services.audit import audit
from server.services.idempotency import run_idempotent


def test_a_refusal_that_keeps_changes_commits_them_but_not_the_key(ctx):
    runs = []

    def refused():
        runs.append(1)
        audit("terminal:t", "card.block_stale", "card", "crd_x")
        raise CardStale()

    for _ in range(2):  # the key stays unused, so the retry runs the work again
        with pytest.raises(CardStale):
            run_idempotent("terminal:t", "k1", "hash", refused)
    db.session.remove()
    assert len(runs) == 2
    assert db.session.scalar(select(func.count()).select_from(AuditLog)) == 2
    assert db.session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 0


def test_success_is_stored_once_and_replayed(ctx):
    runs = []

    def work():
        runs.append(1)
        return 201, {"sale": {"id": "sal_1"}}

    first = run_idempotent("terminal:t", "k2", "hash", work)
    again = run_idempotent("terminal:t", "k2", "hash", work)
    assert (first.status, first.body, first.replayed) == (201, {"sale": {"id": "sal_1"}}, False)
    assert (again.status, again.body, again.replayed) == (201, {"sale": {"id": "sal_1"}}, True)
    assert len(runs) == 1
