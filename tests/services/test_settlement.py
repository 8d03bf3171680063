"""Closing business days, late corrections, statements, jobs and reconciliation through the CLI."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select, text, update

from server.cli import main
from server.domain.errors import Conflict
from server.extensions import db
from server.models import JobRun, LedgerEntry, PointsLot, Sale, Settlement, SettlementDay
from server.services import checkout, points, settlement
from server.services.finance import render_statement
from server.services.jobs import run_job
from server.services.reconciliation import reconcile
from server.services.settlement import statement_lines
from server.services.staff import terminal_for_token
from tests.browser import ARTIFACTS_DIR
from tests.builders import ACTOR, make_member, make_world
from tests.clock import frozen_clock

DAY = date(2026, 3, 2)
# 2026-03-02 10:00 Beijing time; the business day runs 04:00 → 04:00 Beijing time (20:00 → 20:00 UTC)
MORNING = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def sell(shop, card, amount: int, redeem: int = 0):
    terminal = terminal_for_token(shop.token)
    found = checkout.identify(terminal, code=card.card_no)
    return checkout.record_sale(terminal, identification_token=found.token, amount_fen=amount, redeem_points=redeem)


@pytest.fixture
def trading_day(app):
    """Shop A (0.6 % + 5 fen a sale) and shop B sell on DAY, including after midnight; yields the world."""
    with app.app_context(), frozen_clock(MORNING) as clock:
        world = make_world()
        world.shop_a.merchant.service_fee_bp, world.shop_a.merchant.service_fee_per_sale_fen = 60, 5
        db.session.add(world.shop_a.merchant)
        db.session.commit()
        member, card = make_member(points=1_000)
        first = sell(world.shop_a, card, 10_000, redeem=500).sale  # pays 9 500, earns 95
        clock.now = datetime(2026, 3, 2, 19, 30, tzinfo=UTC)  # 03:30 on 3 March, Beijing: still DAY
        second = sell(world.shop_a, card, 20_000).sale  # earns 200
        sell(world.shop_b, card, 5_000)  # earns 50
        clock.now = datetime(2026, 3, 2, 20, 0, tzinfo=UTC)  # 04:00: the next business day
        sell(world.shop_b, card, 7_000)
        yield world, clock, member, card, first, second
        db.session.remove()


def test_a_day_closes_once_with_each_merchants_net_position(trading_day):
    world, clock, _, _, first, second = trading_day
    with pytest.raises(Conflict):  # 04:00 + 10 minutes' grace has not passed
        settlement.close_day(ACTOR, DAY)
    clock.advance(minutes=10)
    result = settlement.close_day(ACTOR, DAY)
    assert result.closed_now and result.day.merchants == 2
    rows = {row.merchant_id: row for row in db.session.scalars(select(Settlement))}
    a, b = rows[world.shop_a.merchant.id], rows[world.shop_b.merchant.id]
    assert (a.sales_count, a.member_sales_fen, a.points_granted, a.points_accepted) == (2, 29_500, 295, 500)
    assert a.service_fee_fen == 177 + 10  # 0.6 % of 29 500 fen, rounded half up; 2 sales at 5 fen
    assert a.net_fen == 500 - 295 - 187
    assert (b.sales_count, b.points_granted, b.service_fee_fen, b.net_fen) == (1, 50, 0, -50)
    assert result.day.net_fen == a.net_fen + b.net_fen
    assert not settlement.close_day(ACTOR, DAY).closed_now
    assert db.session.scalar(select(func.count()).select_from(Settlement)) == 2
    assert reconcile(DAY) == []


def test_a_late_refund_lands_in_the_next_open_day_and_the_closed_day_stays(trading_day):
    world, clock, _, _, first, _ = trading_day
    clock.advance(minutes=10)
    settlement.close_day(ACTOR, DAY)
    before = sorted(tuple(row) for row in db.session.execute(select(Settlement.__table__)))
    refund = checkout.refund_sale(ACTOR, first.id, None).refund  # on 3 March
    assert sorted(tuple(row) for row in db.session.execute(select(Settlement.__table__))) == before
    assert reconcile(DAY) == []
    clock.now = datetime(2026, 3, 3, 20, 10, tzinfo=UTC)
    settlement.close_day(ACTOR, date(2026, 3, 3))
    late = db.session.scalar(
        select(Settlement).where(
            Settlement.business_day == date(2026, 3, 3), Settlement.merchant_id == world.shop_a.merchant.id
        )
    )
    assert (late.refunds_count, late.refunds_fen) == (1, 9_500)
    assert (late.points_granted, late.points_accepted) == (-refund.points_reversed, -500)
    assert late.service_fee_fen == -57  # the fee on the refunded money comes back, half up: 57.0
    assert reconcile(date(2026, 3, 3)) == []


def test_statement_lines_go_down_to_each_sale_and_add_up(trading_day):
    world, clock, *_ = trading_day
    clock.advance(minutes=10)
    settlement.close_day(ACTOR, DAY)
    row = db.session.scalar(select(Settlement).where(Settlement.merchant_id == world.shop_a.merchant.id))
    content, filename, mimetype = render_statement(row.id, None, "csv")
    assert filename == f"statement-2026-03-02-{world.shop_a.merchant.id}.csv" and mimetype.startswith("text/csv")
    assert content.startswith("\ufeff".encode())  # BOM: spreadsheet programs read the Chinese
    table = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))  # one table: one header row
    assert list(table[0])[:3] == ["记账时间", "类型", "小票号"]
    sales = [line for line in table if line["小票号"]]
    assert [line["小票号"] for line in sales] == ["0001-000001", "0001-000002"]
    assert sales[0]["记账时间"] == "2026-03-02 10:00:00"  # 02:00 UTC is 10:00 in the alliance
    assert sales[0]["实付金额（元）"] == "95.00"  # yuan with two decimals, not fen
    assert sum(int(line["发放积分"]) for line in sales) == row.points_granted
    # the service fee on net member sales is a line, so the lines add up to the statement's net position
    fee = [line for line in table if line["类型"] == "按净会员消费收取的服务费"]
    assert [line["费用（元）"] for line in fee] == ["1.77"]  # 0.6 % of ¥295.00, half up (per-sale fees on the sales)
    assert sum(yuan_fen(line["净额（元）"]) for line in table) == row.net_fen
    assert sum(line["net_fen"] for line in statement_lines(row)) == row.net_fen
    pdf, _, _ = render_statement(row.id, None, "pdf")
    assert pdf.startswith(b"%PDF") and b"STSong-Light" in pdf
    ARTIFACTS_DIR.mkdir(exist_ok=True)  # for people to look at: pdftoppm -png test-artifacts/statement-with-fee.pdf
    (ARTIFACTS_DIR / "statement-with-fee.pdf").write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()
    assert "按净会员消费收取的服务费" in text and "0.60%" in text and "未付款" in text
    with pytest.raises(Exception, match="No such settlement"):
        render_statement(row.id, world.shop_b.merchant.id, "csv")  # another merchant's


def yuan_fen(text: str) -> int:
    """``-1.23`` → ``-123`` (exact)."""
    whole, _, fen = text.lstrip("-").partition(".")
    return (-1 if text.startswith("-") else 1) * (int(whole) * 100 + int(fen))


def test_jobs_run_twice_change_nothing_more(trading_day, app):
    world, clock, member, *_ = trading_day
    clock.advance(minutes=10)
    first = run_job("close-settlement", DAY)
    again = run_job("close-settlement", DAY)
    assert (first.status, first.summary["closed_now"]) == ("done", True)
    assert (again.status, again.summary["closed_now"]) == ("done", False)
    early = run_job("close-settlement", date(2026, 3, 3))  # not over yet: skipped, nothing closed
    assert early.status == "skipped" and db.session.get(SettlementDay, date(2026, 3, 3)) is None
    clock.now = datetime(2031, 1, 2, tzinfo=UTC)  # every lot (end of the year after next) has expired
    expired = run_job("expire-points", points.alliance_today())
    assert expired.summary["points"] == 1_000 - 500 + 95 + 200 + 50 + 70
    assert run_job("expire-points", points.alliance_today()).summary["points"] == 0
    statuses = db.session.scalars(select(JobRun.status).order_by(JobRun.id)).all()
    assert statuses == ["done", "done", "skipped", "done", "done"]


@pytest.fixture
def run_cli(app):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(main, list(args))


def test_reconcile_names_every_corrupted_row(trading_day, run_cli):
    world, clock, member, _, _, second = trading_day
    clock.advance(minutes=10)
    settlement.close_day(ACTOR, DAY)
    db.session.commit()
    ok = run_cli("settlement", "reconcile", "--date", "2026-03-02")
    assert ok.exit_code == 0, ok.output
    assert "结算单、账本与销售记录一致" in ok.output

    row = db.session.scalar(select(Settlement).where(Settlement.merchant_id == world.shop_a.merchant.id))
    entry = db.session.scalar(select(LedgerEntry).order_by(LedgerEntry.id.desc()).limit(1))
    lot = db.session.scalar(select(PointsLot).where(PointsLot.member_id == member.id).limit(1))
    db.session.execute(update(Settlement).where(Settlement.id == row.id).values(points_redeemed=499))
    db.session.execute(text("UPDATE ledger_entries SET amount = amount + 1 WHERE id = :id"), {"id": entry.id})
    db.session.execute(update(PointsLot).where(PointsLot.id == lot.id).values(remaining=PointsLot.remaining + 3))
    db.session.execute(update(Sale).where(Sale.id == second.id).values(points_earned=Sale.points_earned + 2))
    db.session.commit()

    found = run_cli("settlement", "reconcile", "--date", "2026-03-02")
    assert found.exit_code == 1
    output = found.output
    assert f"settlement {row.id}" in output and "points_redeemed is 499, sales say 500" in output
    assert "points_accepted is 500, its figures give 499" in output
    assert f"ledger transaction {entry.transaction_id} does not balance" in output
    assert f"ledger account {entry.account_id}" in output and "cached balance" in output
    assert f"member {member.id}" in output and "open lots hold" in output
    # a sale claiming more earned points than the ledger moved, against the day and all time
    assert f"merchant {world.shop_a.merchant.id} 2026-03-02: ledger account" in output
    assert f"merchant {world.shop_a.merchant.id}: ledger account" in output and "(points issued) holds" in output
    assert "2026-03-02 有" in output and "处差异" in output
    latest = run_cli("settlement", "reconcile")  # no --date: the last closed business day
    assert latest.exit_code == 1 and "2026-03-02 有" in latest.output

    not_closed = run_cli("settlement", "reconcile", "--date", "2026-03-05")
    assert not_closed.exit_code == 1 and "2026-03-05 is not closed" in not_closed.output


def test_jobs_run_command_prints_one_line_per_job(app, run_cli):
    with app.app_context():
        make_world()
        db.session.remove()
    result = run_cli("jobs", "run", "--job", "expire-points", "--job", "dispatch-sms", "--date", "2026-03-02")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [(line["job"], line["status"]) for line in lines] == [("expire-points", "done"), ("dispatch-sms", "done")]
    bad = run_cli("jobs", "run", "--job", "nope")
    assert bad.exit_code == 2 and "未知任务 nope" in bad.output


def test_the_in_process_scheduler_runs_every_job(app):
    import time

    from server.services.jobs import JOBS, start_scheduler

    with app.app_context():
        make_world()
        db.session.remove()
    scheduler = start_scheduler(app, 0.05)
    try:
        deadline = time.monotonic() + 20
        with app.app_context():
            while set(db.session.scalars(select(JobRun.job).distinct())) != set(JOBS):
                assert time.monotonic() < deadline, "the scheduler did not run every job"
                db.session.remove()
                time.sleep(0.05)
            db.session.remove()
    finally:
        scheduler.stop()
    assert not scheduler.is_alive()


def test_the_job_closes_every_day_missed_since_the_last_closing(trading_day):
    _, clock, *_ = trading_day
    clock.now = datetime(2026, 3, 4, 21, tzinfo=UTC)  # 05:00 on 5 March, Beijing: 4 March has ended
    outcome = run_job("close-settlement")
    assert outcome.run_date == date(2026, 3, 4)
    assert outcome.summary["closed_days"] == ["2026-03-02", "2026-03-03", "2026-03-04"]
    assert run_job("close-settlement").summary["closed_days"] == []
    assert all(reconcile(date(2026, 3, day)) == [] for day in (2, 3, 4))
    clock.now = datetime(2026, 3, 5, 20, 5, tzinfo=UTC)  # 5 March ended 5 minutes ago: within the grace period
    assert run_job("close-settlement", date(2026, 3, 5)).status == "skipped"


def test_statement_command_writes_csv_and_pdf(trading_day, run_cli, tmp_path):
    world, clock, *_ = trading_day
    clock.advance(minutes=10)
    closed = run_cli("settlement", "close", "--date", "2026-03-02")
    assert closed.exit_code == 0 and json.loads(closed.output)["closed_now"] is True
    merchant = world.shop_a.merchant.id
    for fmt in ("csv", "pdf"):
        target = tmp_path / f"statement.{fmt}"
        result = run_cli(
            "settlement",
            "statement",
            "--merchant",
            merchant,
            "--date",
            "2026-03-02",
            "--format",
            fmt,
            "--output",
            str(target),
        )
        assert result.exit_code == 0, result.output
    assert "0001-000002" in (tmp_path / "statement.csv").read_text(encoding="utf-8-sig")
    assert (tmp_path / "statement.pdf").read_bytes().startswith(b"%PDF")
    missing = run_cli(
        "settlement", "statement", "--merchant", merchant, "--date", "2026-03-09", "--output", str(tmp_path / "x.csv")
    )
    assert missing.exit_code == 1 and "没有结算单" in missing.output
