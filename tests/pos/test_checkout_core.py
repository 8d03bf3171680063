"""The checkout core against a real server: local pricing equals the server's, states, and the outbox rules."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta

import pytest

from pos_client.checkout import Checkout, State
from pos_client.config import PosConfig
from pos_client.messages import PosError
from pos_client.outbox import Outbox
from pos_client.sync import replay
from pos_client.terminal import terminal_client
from server.services import catalog
from tests.builders import ACTOR, make_member, make_world
from tests.live_server import live_server
from tests.pos.pos_helpers import FrontServer, write_config


@pytest.fixture
def scene(app, tmp_path):
    with app.app_context():
        world = make_world()
        catalog.set_level_discount(ACTOR, world.shop_a.merchant.id, world.levels["normal"].id, 9300)
        _, card = make_member(points=5000)
        token, card_no = world.shop_a.token, card.card_no
    with live_server(app) as url:
        front = FrontServer(url)
        front.start()
        config = write_config(tmp_path, front.url, token)
        core = Checkout(terminal_client(PosConfig.load(config)), Outbox(PosConfig.outbox_path(config)))
        core.refresh()
        yield core, card_no, front
        front.stop()


@pytest.mark.parametrize("amount_fen", [1, 7, 15, 99, 1_001, 12_345, 99_999, 1_234_567])
def test_local_pricing_without_redemption_equals_the_servers_quote(scene, amount_fen):
    core, card_no, _ = scene
    member = core.identify_code(card_no)
    local = core.quote(amount_fen)
    server = core.client.quote(member.token, amount_fen, 0)
    assert (local.discount_fen, local.payable_fen, local.points_to_earn) == (
        server["discount_fen"],
        server["payable_fen"],
        server["points_to_earn"],
    )


def test_states_run_idle_identified_quoted_committed_printed(scene):
    core, card_no, _ = scene
    assert core.state is State.IDLE
    with pytest.raises(PosError, match="请先识别会员"):
        core.quote(100)
    core.identify_code(card_no)
    assert core.state is State.IDENTIFIED
    with pytest.raises(PosError, match="请先输入金额"):
        core.commit(10_000)
    quote = core.quote(10_000, redeem="max")
    assert core.state is State.QUOTED and quote.redeem_points == quote.max_redeem_points > 0
    outcome = core.commit(10_000, "max")
    assert core.state is State.COMMITTED and outcome.status == "approved"
    assert outcome.sale["redeem_points"] == quote.redeem_points
    core.print_receipt()
    assert core.state is State.PRINTED
    core.reset()
    assert core.state is State.IDLE and core.member is None


def test_refused_redemption_says_why_in_chinese(scene):
    core, card_no, _ = scene
    core.identify_code(card_no)
    with pytest.raises(PosError) as refused:
        core.quote(1_000, redeem=4_999)
    assert str(refused.value) == "超过本店积分抵扣上限"


def test_the_outbox_is_wal_with_full_sync_and_keeps_the_key_before_sending(scene):
    core, card_no, front = scene
    path = core.outbox.path
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert core.outbox._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    core.identify_code(card_no)
    core.quote(500)
    front.gate.hold_before.set()
    seen = []

    def check_stored():
        # runs when the request reaches the front server: the row with that key is already committed
        body = front.gate.sales_seen[-1]
        with sqlite3.connect(path) as db:
            seen.append(db.execute("SELECT client_sale_id FROM sales").fetchall())
        assert body["client_sale_id"] in [row[0] for row in seen[-1]]
        front.gate.release.set()

    threading.Thread(target=lambda: (front.gate.held.wait(10), check_stored()), daemon=True).start()
    outcome = core.commit(500)
    assert seen and outcome.status == "unknown"  # the held request got 503s: outcome unknown, kept
    front.gate.hold_before.clear()
    assert replay(core.client, core.outbox).sent == [outcome.seq]


def test_only_the_sent_mark_is_committed_without_waiting_for_the_disk(scene):
    """The sale is stored under synchronous=FULL before it is sent; the server's answer is kept in a commit that
    does not wait for the disk (a lost mark only sends the sale again), and FULL is back right after it."""
    core, card_no, _ = scene
    said = []
    core.outbox._db.set_trace_callback(said.append)
    try:
        core.identify_code(card_no)
        core.quote(800)
        assert core.commit(800).status == "approved"
    finally:
        core.outbox._db.set_trace_callback(None)
    stored = next(i for i, sql in enumerate(said) if sql.startswith("INSERT INTO sales"))
    marked = next(i for i, sql in enumerate(said) if sql.startswith("UPDATE sales SET state = 'sent'"))
    unsynced = [i for i, sql in enumerate(said) if sql == "PRAGMA synchronous=NORMAL"]
    assert len(unsynced) == 1 and stored < unsynced[0] < marked
    assert said[marked + 1 :].index("COMMIT") < said[marked + 1 :].index("PRAGMA synchronous=FULL")
    assert core.outbox._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL again for the next sale


def test_an_expired_identification_is_replayed_as_an_offline_sale_with_the_identification(scene, app):
    core, card_no, front = scene
    core.identify_code(card_no)
    core.quote(2_000)
    front.stop()
    outcome = core.commit(2_000)
    assert outcome.status == "unknown"
    with app.app_context():
        from server.extensions import db
        from server.models import Identification

        # it expired after the sale was committed at the till, before the sale reached the server
        db.session.query(Identification).update({"expires_at": datetime.now(UTC)})
        db.session.commit()
        db.session.remove()
    front.start()
    result = core.sync()
    assert result.sent == [outcome.seq] and result.remaining == 0
    sale = core.outbox.sale(outcome.seq)
    assert sale.offline and sale.idempotency_key.endswith("-offline")
    assert sale.body["identification_token"] == core.member.token and "code" not in sale.body
    assert sale.response["sale"]["amount_fen"] == 2_000


def test_offline_caps_per_shift_and_age(scene):
    core, _, _ = scene
    from pos_client.checkout import Member

    limits = core.info["offline_limits"]
    core.member = Member("卡号 0001", "普通会员", 9300, None, offline=True, capture={"code": "x"})
    core.state = State.IDENTIFIED
    for _ in range(limits["max_sales_per_shift"]):
        core.outbox.add_sale(f"k{_}", f"c{_}", {}, offline=True)
    with pytest.raises(PosError, match="本班离线交易已达上限"):
        core.quote(100)
    core.outbox.close_shift()
    core.quote(100)
    core.clock = lambda: datetime.now(UTC) + timedelta(hours=limits["max_age_hours"], minutes=1)
    with pytest.raises(PosError, match="小时未上传"):
        core.quote(100)


def test_an_unconfirmed_sale_with_points_prints_no_receipt_until_the_server_answers(scene):
    core, card_no, front = scene
    core.identify_code(card_no)
    quote = core.quote(10_000, redeem=100)
    front.stop()
    outcome = core.commit(10_000, 100)
    assert outcome.status == "unknown" and quote.redeem_points == 100
    with pytest.raises(PosError, match="积分抵扣未能确认"):
        core.print_receipt()
    with pytest.raises(PosError, match="没有可重打的小票"):
        core.reprint()
    front.start()
    result = core.sync()  # the identification is still valid: the sale is recorded with its points
    assert result.sent == [outcome.seq]
    assert core.outbox.sale(outcome.seq).response["sale"]["redeem_points"] == 100


def test_a_done_sale_cannot_be_charged_again_with_the_same_identification(scene):
    core, card_no, _ = scene
    core.identify_code(card_no)
    core.quote(1_000)
    core.commit(1_000)
    with pytest.raises(PosError, match="本单已完成"):
        core.quote(1_000)
    with pytest.raises(PosError, match="本单已完成"):
        core.commit(1_000)
    assert core.outbox.pending_count() == 0 and len(core.outbox.shift_sales(core.outbox.shift_no())) == 1


def test_a_revoked_token_stops_the_replay_and_loses_nothing(scene):
    core, card_no, _ = scene
    core.identify_code(card_no)
    core.quote(700)
    core.commit(700)
    core.reset()
    seq = core.outbox.add_sale("key-x", "client-x", {"amount_fen": 100, "offline": True, "code": card_no}, offline=True)
    good_token = core.client.headers["Authorization"]
    core.client.headers["Authorization"] = "Bearer tt_revoked"
    result = core.sync()
    assert result.unreachable and result.failed == [] and core.outbox.pending_count() == 1
    core.client.headers["Authorization"] = good_token
    assert core.sync().sent == [seq]


def test_only_a_quote_made_for_the_inputs_on_screen_can_be_committed(scene):
    core, card_no, _ = scene
    core.identify_code(card_no)
    core.quote(5_000)
    # the cashier typed more digits (5020.00) or chose another redemption after pricing: refused, nothing stored
    for amount_fen, redeem in ((502_000, 0), (5_000, "max"), (5_000, 100)):
        with pytest.raises(PosError, match="显示的应付金额已作废"):
            core.commit(amount_fen, redeem)
    assert core.outbox.shift_sales(core.outbox.shift_no()) == []
    quote = core.quote(5_000, "max")
    with pytest.raises(PosError, match="已作废"):
        core.commit(5_000, quote.redeem_points)  # "max" priced: the same points typed by hand are another choice
    outcome = core.commit(5_000, "max")
    assert outcome.sale["amount_fen"] == 5_000 and outcome.sale["redeem_points"] == quote.redeem_points


def test_a_new_identification_starts_a_new_sale(scene):
    core, card_no, _ = scene
    core.identify_code(card_no)
    core.quote(6_660)
    core.commit(6_660)
    core.identify_code(card_no)  # the next customer, without Esc
    assert core.state is State.IDENTIFIED and core.quote_ is None and not core.is_priced_for(6_660)
    with pytest.raises(PosError, match="请先输入金额"):
        core.commit(6_660)
    core.quote(2_000)
    assert core.commit(2_000).sale["amount_fen"] == 2_000


def test_a_failed_identification_leaves_no_member_to_charge(scene):
    core, card_no, _ = scene
    core.identify_code(card_no)
    core.quote(3_000)
    with pytest.raises(PosError):
        core.identify_code("1234")  # the next customer's code is refused: the last member must not be charged
    assert core.member is None and core.state is State.IDLE
    with pytest.raises(PosError, match="请先识别会员"):
        core.quote(3_000)
