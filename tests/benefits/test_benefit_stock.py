"""Benefit stock: imports of 卡密 (report, all-or-nothing, resume), vouchers, FEFO, reservations, redemption,
reveal (audited), and no code or secret in clear in a dump of the database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from server.domain import voucher_codes
from server.domain.errors import BenefitCodeInvalid, BenefitOutOfStock, Conflict, Forbidden, InvalidRequest
from server.domain.statuses import BenefitCodeStatus
from server.extensions import db
from server.models import AuditLog, BenefitCode, BenefitImportRow
from server.models.base import utcnow
from server.services import benefit_catalog, benefit_imports, benefit_stock, jobs
from server.services.points import alliance_today
from tests.benefits.helpers import ADMIN, MANAGER, csv_file, third_party
from tests.builders import make_member, make_world
from tests.test_secrets_at_rest import appears, dump_database

FUTURE = (date.today() + timedelta(days=400)).isoformat()


def good_rows(n, prefix="VM", start=0):
    return [(f"{prefix}{i:08d}", f"S{i:06d}X", FUTURE) for i in range(start, start + n)]


def test_an_import_with_duplicates_and_bad_rows_rejects_exactly_those_and_all_or_nothing_imports_nothing(ctx):
    sku, _, purchase = third_party()
    rows = good_rows(6)
    rows[2] = ("VM00000000", "DUP", FUTURE)  # row 4 of the file: duplicate of row 2
    rows[3] = ("x", "S", FUTURE)  # row 5: bad code
    rows[4] = ("VM00000004", "S4", "2020-01-01")  # row 6: past expiry
    rows[5] = ("VM00000005", "S5", "not-a-date")  # row 7: bad expiry
    job = benefit_imports.import_file(MANAGER, purchase.id, csv_file(rows), "codes.csv", all_or_nothing=True)
    assert job.status == "refused"
    assert [(item["row"], item["reason"]) for item in job.report] == [
        (4, "duplicate_in_file"),
        (5, "bad_code"),
        (6, "expired"),
        (7, "bad_expiry"),
    ]
    assert job.rows_rejected == 4 and job.rows_received == 0
    assert db.session.scalars(select(BenefitCode)).all() == []
    assert db.session.scalars(select(BenefitImportRow)).all() == []  # staging emptied

    # the same purchase, the good rows only: the two good ones go in; then the same codes again are duplicates
    again = benefit_imports.import_file(MANAGER, purchase.id, csv_file(rows) + b"\n", "codes.csv", all_or_nothing=False)
    assert again.status == "received" and again.rows_received == 2 and again.rows_rejected == 4
    assert {code.last4 for code in db.session.scalars(select(BenefitCode))} == {"0000", "0001"}
    _, _, second = third_party("OTHER")
    assert benefit_catalog.get_purchase(purchase.id).received_count == 2
    # a later file against stock (same SKU): new purchase of the same SKU
    third = benefit_catalog.create_purchase(
        MANAGER,
        sku_id=sku.id,
        supplier_id=second.supplier_id,
        quantity=5,
        source="file_import",
        purchase_date=date(2026, 12, 2),
    )
    late = benefit_imports.import_file(
        MANAGER, third.id, csv_file([rows[0], ("VM00000099", "S", FUTURE)]), "b.csv", all_or_nothing=False
    )
    assert [(item["row"], item["reason"]) for item in late.report] == [(2, "duplicate_in_stock")]
    assert late.rows_received == 1


def test_an_xlsx_import_is_read_and_a_crashed_import_resumes_from_its_checkpoint(ctx, monkeypatch):
    _, _, purchase = third_party(quantity=30)
    book = Workbook()
    sheet = book.active
    sheet.append(["卡号", "密码", "有效期"])
    for code, secret, _ in good_rows(25):
        sheet.append([code, secret, date.today() + timedelta(days=90)])
    import io

    buffer = io.BytesIO()
    book.save(buffer)
    data = buffer.getvalue()
    monkeypatch.setattr(benefit_imports, "CHUNK_ROWS", 10)
    seen = []

    def crash(done, total):
        seen.append((done, total))
        if done == 10:
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError):
        benefit_imports.import_file(MANAGER, purchase.id, data, "codes.xlsx", progress=crash)
    job = benefit_imports.start_import(MANAGER, purchase.id, data, "codes.xlsx")
    assert job.status == "staging" and job.rows_done == 11  # header + 10 rows committed
    assert db.session.query(BenefitImportRow).count() == 10
    progress = []
    done = benefit_imports.import_file(
        MANAGER, purchase.id, data, "codes.xlsx", progress=lambda d, t: progress.append(d)
    )
    assert progress[0] == 10 and progress[-1] == 25
    assert done.status == "received" and done.rows_received == 25
    assert db.session.query(BenefitCode).count() == 25


def _stock(sku_id, purchase_id, expiries):
    """Codes of ``sku_id`` with the given expiries (days from today, None for none), through an import."""
    rows = [
        (f"FE{i:06d}", "S", (alliance_today() + timedelta(days=d)).isoformat() if d is not None else "")
        for i, d in enumerate(expiries)
    ]
    job = benefit_imports.import_file(MANAGER, purchase_id, csv_file(rows), "fefo.csv")
    assert job.status == "received", job.report
    return {code.last4: code.id for code in db.session.scalars(select(BenefitCode))}


def test_allocation_is_first_expiring_first_out_and_respects_the_member_limit(ctx):
    make_world()
    sku, _, purchase = third_party()
    ids = _stock(sku.id, purchase.id, [30, None, 5, 300, 5])
    member, _ = make_member()
    first = benefit_stock.allocate(sku.id, member_id=member.id, count=2)
    assert set(first) == {ids["0002"], ids["0004"]}
    assert benefit_stock.allocate(sku.id, member_id=member.id) == [ids["0000"]]
    assert benefit_stock.allocate(sku.id, member_id=member.id) == [ids["0003"]]
    assert benefit_stock.allocate(sku.id, member_id=member.id) == [ids["0001"]]  # no expiry: last
    with pytest.raises(BenefitOutOfStock):
        benefit_stock.allocate(sku.id, member_id=member.id)
    held = db.session.scalars(select(BenefitCode).where(BenefitCode.member_id == member.id)).all()
    assert {code.status for code in held} == {"issued"}


def test_a_reservation_that_times_out_returns_its_code_through_the_job(ctx):
    make_world()
    sku, _, purchase = third_party()
    _stock(sku.id, purchase.id, [10])
    past = utcnow() - timedelta(minutes=30)
    token = benefit_stock.reserve(sku.id, 1, minutes=15, now=past)
    with pytest.raises(BenefitOutOfStock):
        benefit_stock.reserve(sku.id, 1)
    member, _ = make_member()
    with pytest.raises(Conflict):
        benefit_stock.issue_reserved(token, member_id=member.id)  # the deadline passed
    outcome = jobs.run_job("release-benefit-reservations")
    assert outcome.summary == {"released": 1}
    code = db.session.scalars(select(BenefitCode)).one()
    db.session.refresh(code)
    assert code.status == "available" and code.reservation is None
    fresh = benefit_stock.reserve(sku.id, 1)
    assert benefit_stock.issue_reserved(fresh, member_id=member.id) == [code.id]


def test_vouchers_are_generated_redeemed_once_and_a_bad_guess_gets_the_same_answer(ctx):
    world = make_world()
    sku = benefit_catalog.create_sku(
        MANAGER,
        code="CASH10",
        name="10元代金券",
        kind="voucher_cash",
        face_value_fen=1_000,
        funder="alliance",
        valid_days=30,
        scope="merchants",
        merchant_ids=[world.shop_a.merchant.id],
    )
    purchase = benefit_catalog.create_purchase(
        MANAGER, sku_id=sku.id, quantity=50, source="generated", purchase_date=date(2026, 12, 1)
    )
    benefit_imports.generate_vouchers(MANAGER, purchase.id)
    assert db.session.query(BenefitCode).count() == 50
    member, _ = make_member()
    [code_id] = benefit_stock.allocate(sku.id, member_id=member.id)
    shown = benefit_stock.reveal_for_member(member.id, code_id)
    assert voucher_codes.is_valid(shown["code"]) and len(voucher_codes.normalize(shown["code"])) == 16
    issued = db.session.get(BenefitCode, code_id)
    assert issued.expires_on == alliance_today() + timedelta(days=30)
    answers = []
    wrong_check = shown["code"][:-1] + ("2" if shown["code"][-1] != "2" else "3")
    for attempt in (voucher_codes.new_code(), "AAAA", wrong_check):  # unknown, nonsense, bad check character
        with pytest.raises(BenefitCodeInvalid) as refused:
            benefit_stock.redeem(attempt, world.shop_a.merchant.id)
        answers.append((refused.value.code, refused.value.message, refused.value.details))
    with pytest.raises(BenefitCodeInvalid) as elsewhere:  # not accepted at shop B
        benefit_stock.redeem(shown["code"], world.shop_b.merchant.id)
    answers.append((elsewhere.value.code, elsewhere.value.message, elsewhere.value.details))
    assert len(set(map(str, answers))) == 1
    redeemed = benefit_stock.redeem(shown["code"].lower(), world.shop_a.merchant.id)
    assert redeemed.status == "redeemed" and redeemed.redeemed_merchant_id == world.shop_a.merchant.id
    with pytest.raises(BenefitCodeInvalid):
        benefit_stock.redeem(shown["code"], world.shop_a.merchant.id)


def test_reveal_is_audited_and_needs_the_secrets_permission_and_a_reason(ctx):
    make_world()
    sku, _, purchase = third_party()
    _stock(sku.id, purchase.id, [10, 20])
    member, _ = make_member()
    other, _ = make_member()
    [code_id] = benefit_stock.allocate(sku.id, member_id=member.id)
    with pytest.raises(Exception):  # noqa: B017 - another member's code is not theirs to see
        benefit_stock.reveal_for_member(other.id, code_id)
    assert benefit_stock.reveal_for_member(member.id, code_id)["code"] == "FE000000"
    with pytest.raises(Forbidden):
        benefit_stock.reveal_for_staff(MANAGER, code_id, "客户投诉")
    with pytest.raises(InvalidRequest):
        benefit_stock.reveal_for_staff(ADMIN, code_id, "  ")
    assert benefit_stock.reveal_for_staff(ADMIN, code_id, "客户投诉")["secret"] == "S"
    entries = db.session.scalars(select(AuditLog).where(AuditLog.object_id == code_id).order_by(AuditLog.id)).all()
    assert [(e.action, e.actor) for e in entries] == [
        ("benefit_code.reveal", f"member:{member.id}"),
        ("benefit_code.reveal_secret", ADMIN.key),
    ]
    assert entries[1].details["reason"] == "客户投诉"
    assert [c["masked"] for c in benefit_stock.member_codes(member.id)] == ["****0000"]


def test_expired_codes_are_marked_by_the_job_and_counts_group_by_sku_status_and_month(ctx):
    make_world()
    sku, _, purchase = third_party()
    _stock(sku.id, purchase.id, [1, 40, None])
    assert benefit_stock.expire_codes(alliance_today() + timedelta(days=2)) == 1
    counts = {(row["status"], row["expiry_month"]): row["count"] for row in benefit_stock.stock_counts()}
    month = (alliance_today() + timedelta(days=40)).strftime("%Y-%m")
    assert counts[("available", month)] == 1 and counts[("available", None)] == 1
    assert sum(n for (status, _), n in counts.items() if status == BenefitCodeStatus.EXPIRED) == 1


def test_a_dump_of_the_database_after_an_import_holds_no_code_or_secret_in_clear(ctx, database):
    make_world()
    sku, _, purchase = third_party(quantity=200)
    rows = [(f"QX{i:010d}", f"PW{i:08d}Z", FUTURE) for i in range(200)]
    job = benefit_imports.import_file(MANAGER, purchase.id, csv_file(rows), "secret.csv")
    assert job.rows_received == 200
    member, _ = make_member()
    benefit_stock.allocate(sku.id, member_id=member.id, count=3)
    db.session.commit()
    dump = dump_database(database)
    assert "benefit_codes" in dump
    leaked = [code for row in rows for code in row[:2] if appears(code, dump)]
    assert leaked == []
    assert appears(rows[0][0][-4:], dump)  # the last four are there, masked (the search itself works)
