"""Terminal tokens are resolved from a per-worker copy: a reset or disabled terminal is refused at the next
request, in this worker and in any other (server/services/worker_copies.py), and the copy is never written."""

from __future__ import annotations

from sqlalchemy import event, select

from server.domain.statuses import TerminalStatus
from server.extensions import db
from server.models import AllianceSettings, Merchant, Terminal
from server.services import catalog
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


def test_a_change_committed_by_another_worker_applies_to_the_next_request_and_receipts_stay_exact(
    app, client, database
):
    s = scene(app)
    other = database.make_app()  # another gunicorn worker: its own copies, the same database
    assert _whoami(client, s.auth) == 200
    sold = sell(client, s.auth, code=s.card.card_no, amount_fen=100)
    # GET /terminal shows the row's receipt counter, not the copy's
    last = client.get("/api/v1/terminal", headers=s.auth).json["receipts"]["last_seq"]
    assert sold.json["sale"]["receipt_no"].endswith(f"{last:06d}")
    with other.app_context():
        catalog.update_merchant(ACTOR, s.world.shop_a.merchant.id, earn_rate_bp=500)
    sold = sell(client, s.auth, code=s.card.card_no, amount_fen=10_000)  # the new rate, in this worker at once
    assert sold.json["sale"]["points_earned"] == sold.json["sale"]["payable_fen"] * 500 // 10_000
    with other.app_context():
        catalog.set_terminal_status(ACTOR, s.world.shop_a.terminal.id, TerminalStatus.DISABLED)
    assert _whoami(client, s.auth) == 401
    assert sell(client, s.auth, code=s.card.card_no, amount_fen=100).status_code == 401


def test_a_change_rolled_back_elsewhere_leaves_the_copy_in_use(app, client, database):
    s = scene(app)
    other = database.make_app()
    assert _whoami(client, s.auth) == 200
    with app.app_context():
        before = db.session.execute(select(AllianceSettings.copies_version)).scalar_one()
    with other.app_context():
        terminal = db.session.get(Terminal, s.world.shop_a.terminal.id)
        terminal.status = TerminalStatus.DISABLED
        db.session.flush()  # the version moves on inside this transaction only
        db.session.rollback()
    with app.app_context():
        assert db.session.execute(select(AllianceSettings.copies_version)).scalar_one() == before
    assert _whoami(client, s.auth) == 200


def test_a_sale_reads_no_terminal_settings_or_level_rows_once_copied(app, client):
    s = scene(app)
    assert sell(client, s.auth, code=s.card.card_no, amount_fen=100).status_code == 201  # copies made
    seen: list[str] = []
    with app.app_context():
        engine = db.engine

    def record(_conn, _cursor, statement, *_args):
        if not statement.startswith("BEGIN"):  # SQLite's BEGIN IMMEDIATE
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert sell(client, s.auth, code=s.card.card_no, amount_fen=100).status_code == 201
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert "copies_version" in seen[0]  # the first statement: are the copies current?
    copied = ("FROM terminals", "FROM alliance_settings", "FROM levels", "FROM merchants")
    assert not [sql for sql in seen[1:] if any(table in sql for table in copied)]
