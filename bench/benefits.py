"""Benefit stock at scale on PostgreSQL: importing 100,000 卡密, allocating 10,000 codes from 8 clients, and
redeeming vouchers at the till.

    python -m bench.benefits [--codes 100000] [--allocations 10000] [--clients 8] [--sales 300] [--smoke] [--keep]

1. recreates the database ``alliance_bench_benefits``, migrates it with the project's Alembic migrations and
   creates the alliance, a third-party SKU, a supplier and a purchase through the services;
2. writes a CSV of N codes with secrets and expiries and times ``benefit_imports.import_file`` (the call
   behind ``alliance-server benefits import`` and ``POST /api/v1/benefit-purchases/{id}/imports``): parsing,
   row checks, keyed hashes, AES-GCM encryption, staging by COPY in chunks, de-duplication and the receive
   into stock. As the limit, a plain psycopg ``COPY`` of the same N rows, already encrypted, into
   ``benefit_codes_copy``, a table with the columns, indexes and constraints of ``benefit_codes``.
   Target: the import in at most 3 x the COPY;
3. allocates --allocations codes one by one (``benefit_stock.allocate``: FEFO, ``FOR UPDATE SKIP LOCKED``,
   guarded updates) from --clients threads, each with its own connection, and checks that every code went
   out once (no duplicate, every allocation stored) and that no allocation failed (no deadlock, no
   conflict); prints allocations/s.

4. redemption at the till: --sales sales through the HTTP API (the Flask app in this process, the one-request
   path with the member's card number, PostgreSQL) each redeeming an alliance voucher scanned at the till
   (``voucher_code``: found by its keyed hash), and
   as many of the same sales without one, alternating one of each so both see the same load; the CPU time
   of this process per sale of each kind (``time.process_time``: the whole request, routing, validation,
   pricing, the guarded UPDATE, the link row, the webhook outbox check). Target: a sale with a voucher at
   most 1.3 x the CPU of the same sale without. Checks that every voucher was consumed once.

Exit status 1 when the run itself failed (a duplicate, a deadlock, rows missing); a missed target is
reported, not an error.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import secrets
import sys
import threading
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._postgres import checkpoint, database_url, drop_database, recreate_database, server_url  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = "alliance_bench_benefits"
IMPORT_TARGET_RATIO = 3.0
REDEMPTION_TARGET_RATIO = 1.3
REDEMPTION_WARMUP = 3  # sales of each kind first, not counted (caches, prepared statements)
CODE_COLUMNS = (
    "id",
    "sku_id",
    "purchase_id",
    "lookup_hash",
    "sealed",
    "last4",
    "expires_on",
    "status",
    "void_reason",
    "created_at",
)


class RunFailed(Exception):
    """The run itself went wrong (not just slow); str() says what."""


def seconds_since(started: float) -> float:
    return time.perf_counter() - started


def libpq_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def make_app(url: str):
    from server import create_app
    from server.config import TestingConfig

    return create_app(
        TestingConfig,
        SQLALCHEMY_DATABASE_URI=url,
        SECRET_KEY=secrets.token_urlsafe(32),
        RATE_LIMITS={"identify:terminal": "1000000/minute"},  # a one-request sale counts as an identify
    )


@dataclass
class Seeded:
    sku_id: str
    purchase_id: str
    member_ids: list[str]


def migrate_and_seed(app, codes: int, clients: int) -> Seeded:
    import logging

    from flask_migrate import upgrade

    from server.domain.permissions import Actor
    from server.extensions import db
    from server.services import benefit_catalog, catalog, members
    from server.services.alliance import ensure_alliance
    from server.services.demo import DEMO_LEVELS
    from server.services.unit_of_work import transaction

    actor = Actor("system:bench", "admin", None)
    with app.app_context():
        logging.disable(logging.INFO)
        try:
            upgrade(directory=str(PROJECT_ROOT / "migrations"))
        finally:
            logging.disable(logging.NOTSET)
        with transaction():
            ensure_alliance()
            catalog.create_level("system:bench", **DEMO_LEVELS[0])
        sku = benefit_catalog.create_sku(
            actor, code="BENCH", name="视频月卡", kind="third_party_code", face_value_fen=2_500, sale_price_fen=1_990
        )
        supplier = benefit_catalog.create_supplier(actor, name="基准供应商")
        purchase = benefit_catalog.create_purchase(
            actor,
            sku_id=sku.id,
            supplier_id=supplier.id,
            quantity=codes,
            unit_cost_fen=1_800,
            source="file_import",
            purchase_date=date.today(),
        )
        people = [members.register_member("system:bench", f"1391000{i:04d}", "基准会员").id for i in range(clients)]
        seeded = Seeded(sku.id, purchase.id, people)
        db.session.remove()
    return seeded


def make_file(codes: int) -> tuple[bytes, list[tuple[str, str, str]]]:
    """A CSV of ``codes`` random codes and secrets with expiries spread over a year (a supplier's file)."""
    today = date.today()
    rows = [
        (secrets.token_hex(8).upper(), secrets.token_hex(6), (today + timedelta(days=30 + i % 365)).isoformat())
        for i in range(codes)
    ]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["code", "secret", "expiry"])
    writer.writerows(rows)
    return out.getvalue().encode(), rows


def time_import(app, seeded: Seeded, data: bytes, codes: int) -> float:
    from server.domain.permissions import Actor
    from server.extensions import db
    from server.services import benefit_imports

    with app.app_context():
        started = time.perf_counter()
        job = benefit_imports.import_file(Actor("system:bench", "admin", None), seeded.purchase_id, data, "bench.csv")
        seconds = seconds_since(started)
        if job.status != "received" or job.rows_received != codes:
            raise RunFailed(f"import {job.status}: {job.rows_received} received, report {job.report[:3]}")
        db.session.remove()
    return seconds


def time_copy(app, url: str, seeded: Seeded, rows: list[tuple[str, str, str]], settle: bool = True) -> float:
    """The limit: the same rows, encrypted beforehand (not timed), COPYed into a table like benefit_codes."""
    import psycopg

    from server.models.base import new_id, utcnow
    from server.security.benefit_secrets import sealer

    with app.app_context():
        seal = sealer()
        now = utcnow()
        prepared = []
        for code, secret, expiry in rows:
            code_id = new_id("bcd")
            prepared.append(
                (
                    code_id,
                    seeded.sku_id,
                    seeded.purchase_id,
                    seal.lookup_hash(code),
                    seal.seal(code_id, seeded.sku_id, code, secret),
                    code[-4:],
                    date.fromisoformat(expiry),
                    "available",
                    "",
                    now,
                )
            )
    with psycopg.connect(libpq_url(url)) as connection:
        connection.execute("DROP TABLE IF EXISTS benefit_codes_copy")
        connection.execute("CREATE TABLE benefit_codes_copy (LIKE benefit_codes INCLUDING ALL)")
        foreign_keys = connection.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'benefit_codes'::regclass AND contype = 'f'"
        ).fetchall()
        for (definition,) in foreign_keys:
            connection.execute(f"ALTER TABLE benefit_codes_copy ADD {definition}")
        connection.commit()
        if settle:
            checkpoint(server_url(url))
        started = time.perf_counter()
        with (
            connection.cursor() as cursor,
            cursor.copy(f"COPY benefit_codes_copy ({', '.join(CODE_COLUMNS)}) FROM STDIN") as copy,
        ):
            for row in prepared:
                copy.write_row(row)
        connection.commit()
        seconds = seconds_since(started)
        (copied,) = connection.execute("SELECT count(*) FROM benefit_codes_copy").fetchone()
        connection.execute("DROP TABLE benefit_codes_copy")
        connection.commit()
    if copied != len(rows):
        raise RunFailed(f"COPY stored {copied} rows, expected {len(rows)}")
    return seconds


@dataclass
class AllocationResult:
    seconds: float
    issued: list[str]
    errors: list[str]


def allocate_concurrently(app, seeded: Seeded, allocations: int, clients: int) -> AllocationResult:
    from server.extensions import db
    from server.services import benefit_stock

    per_client = [allocations // clients + (1 if i < allocations % clients else 0) for i in range(clients)]
    issued: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients)

    def client(index: int) -> None:
        mine = []
        with app.app_context():
            barrier.wait()
            try:
                for _ in range(per_client[index]):
                    try:
                        mine.extend(benefit_stock.allocate(seeded.sku_id, member_id=seeded.member_ids[index]))
                    except Exception as exc:  # noqa: BLE001 - a deadlock or conflict fails the run, reported
                        with lock:
                            errors.append(f"{exc.__class__.__name__}: {str(exc)[:200]}")
            finally:
                db.session.remove()
        with lock:
            issued.extend(mine)

    threads = [threading.Thread(target=client, args=(index,)) for index in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return AllocationResult(seconds_since(started), issued, errors)


def check_allocations(app, result: AllocationResult, allocations: int) -> None:
    from sqlalchemy import func, select

    from server.extensions import db
    from server.models import BenefitCode

    with app.app_context():
        stored = db.session.scalar(select(func.count()).select_from(BenefitCode).where(BenefitCode.status == "issued"))
        db.session.remove()
    if result.errors:
        raise RunFailed(f"{len(result.errors)} allocation(s) failed, e.g. {result.errors[0]}")
    if len(result.issued) != allocations or len(set(result.issued)) != allocations or stored != allocations:
        raise RunFailed(
            f"{len(result.issued)} allocated, {len(set(result.issued))} distinct, {stored} stored as issued; "
            f"expected {allocations}"
        )


@dataclass
class Till:
    auth: dict
    card_no: str
    voucher_ids: list[str]
    voucher_codes: list[str]  # as the member shows them (the wallet's reveal), scanned at the till


def seed_redemption(app, sales: int) -> Till:
    """A merchant with a terminal, a member with a card, and ``sales`` alliance vouchers issued to the member."""
    from server.domain import benefit_budgets as budget_rules
    from server.domain.permissions import Actor
    from server.extensions import db
    from server.services import benefit_catalog, benefit_fraud, benefit_imports, benefit_stock, catalog, members

    actor = Actor("system:bench", "admin", None)
    wanted = sales + REDEMPTION_WARMUP
    with app.app_context():
        merchant = catalog.create_merchant("system:bench", name="基准餐厅", trade="food")
        terminal = catalog.create_terminal("system:bench", merchant.id, "收银台")
        member = members.register_member("system:bench", "13920000001", "基准券会员")
        card = members.create_cards("system:bench", 1)[0]
        members.bind_card("system:bench", member.id, card.card_no)
        sku = benefit_catalog.create_sku(
            actor,
            code="BENCH-CASH5",
            name="5元代金券",
            kind="voucher_cash",
            face_value_fen=500,
            funder="alliance",
            valid_days=30,
        )
        purchase = benefit_catalog.create_purchase(
            actor, sku_id=sku.id, quantity=wanted, source="generated", purchase_date=date.today()
        )
        benefit_imports.generate_vouchers(actor, purchase.id)
        voucher_ids: list[str] = []
        while len(voucher_ids) < wanted:
            count = min(benefit_stock.MAX_ALLOCATION, wanted - len(voucher_ids))
            voucher_ids += benefit_stock.allocate(sku.id, member_id=member.id, count=count)
        codes = [benefit_stock.reveal_for_member(member.id, code_id)["code"] for code_id in voucher_ids]
        till = Till({"Authorization": f"Bearer {terminal.token}"}, card.card_no, voucher_ids, codes)
        # one member redeems hundreds of vouchers in minutes: the anti-fraud budgets are raised, not switched
        # off, so each voucher sale still pays for its counting (server/services/benefit_fraud.py)
        benefit_fraud.update_limits(
            "system:bench",
            {key: budget_rules.MAX_LIMIT for key in budget_rules.DEFAULT_LIMITS if key.startswith("redeem:")},
        )
        db.session.remove()
    return till


@dataclass
class RedemptionResult:
    plain_cpu: float  # seconds of CPU per sale
    voucher_cpu: float
    sales: int


def time_redemptions(app, till: Till, sales: int) -> RedemptionResult:
    """Alternate a sale without and a sale with a voucher through the API; the CPU per sale of each."""
    client = app.test_client()
    spent = {"plain": 0.0, "voucher": 0.0}

    def sell(index: int, kind: str) -> float:
        body = {"code": till.card_no, "amount_fen": 10_000, "payment_method": "wechat"}
        if kind == "voucher":
            body["voucher_code"] = till.voucher_codes[index]  # scanned: its own proof, found by its keyed hash
        headers = {**till.auth, "Idempotency-Key": f"bench-{kind}-{index}"}
        started = time.process_time()
        response = client.post("/api/v1/sales", json=body, headers=headers)
        cpu = time.process_time() - started
        if response.status_code != 201:
            raise RunFailed(f"{kind} sale {index}: {response.status_code} {response.get_data(as_text=True)[:300]}")
        if kind == "voucher" and response.json["sale"]["voucher_fen"] != 500:
            raise RunFailed(f"voucher sale {index} applied {response.json['sale']['voucher_fen']} fen, not 500")
        return cpu

    for index in range(REDEMPTION_WARMUP + sales):
        for kind in ("plain", "voucher") if index % 2 == 0 else ("voucher", "plain"):
            cpu = sell(index, kind)
            if index >= REDEMPTION_WARMUP:
                spent[kind] += cpu
    return RedemptionResult(spent["plain"] / sales, spent["voucher"] / sales, sales)


def check_redemptions(app, till: Till, sales: int) -> None:
    from sqlalchemy import func, select

    from server.extensions import db
    from server.models import BenefitCode, SaleVoucher

    wanted = sales + REDEMPTION_WARMUP
    with app.app_context():
        redeemed = db.session.scalar(
            select(func.count())
            .select_from(BenefitCode)
            .where(BenefitCode.id.in_(till.voucher_ids), BenefitCode.status == "redeemed")
        )
        linked = db.session.scalar(select(func.count(func.distinct(SaleVoucher.code_id))).select_from(SaleVoucher))
        db.session.remove()
    if redeemed != wanted or linked != wanted:
        raise RunFailed(f"{redeemed} vouchers redeemed and {linked} linked to sales; expected {wanted}")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_SERVER_URL, help="the PostgreSQL server")
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument("--codes", type=int, default=100_000)
    parser.add_argument("--allocations", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--sales", type=int, default=300, help="sales of each kind in the redemption run")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: 1,000 codes, 64 allocations")
    args = parser.parse_args(argv)
    if args.smoke:
        args.codes, args.allocations, args.sales = 1_000, 64, 10
        args.database = f"{DATABASE}_smoke_{os.getpid()}"
    if args.allocations > args.codes:
        parser.error("--allocations may not exceed --codes")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    base = server_url(args.database_url)
    url = database_url(base, args.database)
    app = None
    try:
        recreate_database(base, args.database)
        app = make_app(url)
        seeded = migrate_and_seed(app, args.codes, args.clients)
        data, rows = make_file(args.codes)
        print(f"importing {args.codes:,} 卡密 ({len(data) / 1e6:.1f} MB of CSV)", flush=True)
        if not args.smoke:  # a checkpoint on a busy server can take long: the smoke run measures nothing
            checkpoint(base)
        import_seconds = time_import(app, seeded, data, args.codes)
        copy_seconds = time_copy(app, url, seeded, rows, settle=not args.smoke)
        del data, rows  # 100,000 rows the server would not hold: the collector would walk them in every later sale
        ratio = import_seconds / copy_seconds
        verdict = "OK" if ratio <= IMPORT_TARGET_RATIO else "MISSED"
        print(
            f"import (checks, keyed hashes, AES-GCM, staging, de-dup, receive): {import_seconds:.2f} s "
            f"({args.codes / import_seconds:,.0f} rows/s)"
        )
        print(f"COPY of the same rows, encrypted beforehand, into a table like benefit_codes: {copy_seconds:.2f} s")
        print(f"import / COPY = {ratio:.2f} (target <= {IMPORT_TARGET_RATIO:.0f}): {verdict}")
        print(f"allocating {args.allocations:,} codes one by one from {args.clients} clients", flush=True)
        result = allocate_concurrently(app, seeded, args.allocations, args.clients)
        check_allocations(app, result, args.allocations)
        print(
            f"allocations: {args.allocations:,} in {result.seconds:.2f} s = "
            f"{args.allocations / result.seconds:,.0f} allocations/s; duplicates 0, deadlocks 0, failures 0"
        )
        print(
            f"redeeming vouchers at the till: {args.sales:,} sales with a voucher, {args.sales:,} without", flush=True
        )
        till = seed_redemption(app, args.sales)
        redemption = time_redemptions(app, till, args.sales)
        check_redemptions(app, till, args.sales)
        ratio = redemption.voucher_cpu / redemption.plain_cpu
        verdict = "OK" if ratio <= REDEMPTION_TARGET_RATIO else "MISSED"
        print(
            f"CPU per sale through the API (this process): without a voucher {redemption.plain_cpu * 1000:.2f} ms, "
            f"with a voucher {redemption.voucher_cpu * 1000:.2f} ms"
        )
        print(f"voucher sales / plain sales = {ratio:.2f} x CPU (target <= {REDEMPTION_TARGET_RATIO}): {verdict}")
    except RunFailed as exc:
        print(f"\nrun FAILED: {exc}")
        return 1
    finally:
        print("dropping the benchmark database", flush=True)
        if app is not None:
            with app.app_context():
                from server.extensions import db

                db.engine.dispose()
        if not args.keep:
            drop_database(base, args.database)
    return 0


if __name__ == "__main__":
    sys.exit(main())
