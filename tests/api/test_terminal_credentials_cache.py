"""Terminal tokens are resolved from a per-worker copy: a reset or disabled terminal is refused at once in
the same process, a change made by another process within the TTL, and the copy is never written."""

from __future__ import annotations

from sqlalchemy import update

from server.domain.statuses import TerminalStatus
from server.extensions import db
from server.models import Merchant, Terminal
from server.services import catalog, staff
from tests.builders import ACTOR
from tests.live_server import scene, sell


def _whoami(client, auth) -> int:
    return client.get("/api/v1/terminal", headers=auth).status_code


def test_a_reset_token_is_refused_at_once_and_the_new_one_works(app, client):
    s = scene(app)
    assert _whoami(client, s.auth) == 200  # cached now
    with app.app_context():
        new = catalog.reset_terminal_token(ACTOR, s.world.shop_a.terminal.id).token
    assert _whoami(client, s.auth) == 401
    assert _whoami(client, {"Authorization": f"Bearer {new}"}) == 200


def test_a_disabled_terminal_and_a_suspended_merchant_are_refused_at_once(app, client):
    s = scene(app)
    assert sell(client, s.auth, code=s.card.card_no, amount_fen=100).status_code == 201
    with app.app_context():
        catalog.set_terminal_status(ACTOR, s.world.shop_a.terminal.id, TerminalStatus.DISABLED)
    assert sell(client, s.auth, code=s.card.card_no, amount_fen=100).status_code == 401
    with app.app_context():
        catalog.set_terminal_status(ACTOR, s.world.shop_a.terminal.id, TerminalStatus.ACTIVE)
        merchant = db.session.get(Merchant, s.world.shop_a.merchant.id)
        merchant.status = "suspended"
        db.session.commit()
    assert sell(client, s.auth, code=s.card.card_no, amount_fen=100).status_code == 401


def test_a_merchants_new_earn_rate_applies_to_the_next_sale(app, client):
    s = scene(app)
    assert sell(client, s.auth, code=s.card.card_no, amount_fen=10_000).status_code == 201
    with app.app_context():
        catalog.update_merchant(ACTOR, s.world.shop_a.merchant.id, earn_rate_bp=500)
    sold = sell(client, s.auth, code=s.card.card_no, amount_fen=10_000)
    assert sold.json["sale"]["points_earned"] == sold.json["sale"]["payable_fen"] * 500 // 10_000


def test_a_change_by_another_process_is_seen_within_the_ttl_and_receipts_stay_exact(app, client, monkeypatch):
    s = scene(app)
    clock = [5_000.0]
    monkeypatch.setattr(staff.time, "monotonic", lambda: clock[0])
    assert _whoami(client, s.auth) == 200
    sold = sell(client, s.auth, code=s.card.card_no, amount_fen=100)
    # GET /terminal shows the row's receipt counter, not the copy's
    last = client.get("/api/v1/terminal", headers=s.auth).json["receipts"]["last_seq"]
    assert sold.json["sale"]["receipt_no"].endswith(f"{last:06d}")
    with app.app_context(), db.engine.begin() as other:  # not through a session: as another worker would
        other.execute(update(Terminal).values(status=TerminalStatus.DISABLED))
    assert _whoami(client, s.auth) == 200  # still the copy
    clock[0] += staff.TERMINAL_CREDENTIAL_TTL_SECONDS
    assert _whoami(client, s.auth) == 401
