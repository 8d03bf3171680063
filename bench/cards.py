"""Card issuance at scale: a 100,000-card batch on PostgreSQL, its print files, encoding over the virtual reader.

    python -m bench.cards [--batch-size 100000] [--export-cards 5000] [--cards 5] [--keep]

1. recreates the database ``alliance_bench_cards``, migrates it with the project's Alembic migrations and
   creates the alliance and one level through the services;
2. times ``server.services.cards.create_batch(actor, N)`` (the call behind ``POST /api/v1/card-batches``)
   and, as the limit, a plain psycopg ``COPY`` of N rows of the same shape into ``cards_copy``, a table with
   the columns, indexes and foreign keys of ``cards``. Target: the batch in <= 20 s;
3. times ``alliance_shared.print_files.write_pdf`` (face number, QR code and Code 128 per card) over the first
   --export-cards numbers of the batch (target >= 1,000 cards/s) and ``write_csv`` over all of them;
4. if pyscard, pcscd and vsmartcard-vpcd are installed: serves the app on a local port, uses the running
   pcscd or starts one, and encodes --cards blank virtual MIFARE Classic 1K cards presented one after the
   other on the vpcd reader with ``BatchEncoder``, as ``alliance-cards encode`` does; prints the APDUs and
   the wall time per card and the round trip of one APDU. Without them this part is skipped.

Exit status 1 only when the run itself failed (rows missing, a card not encoded); a missed target is
reported, not an error.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import secrets
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._postgres import database_url, drop_database, recreate_database, server_url  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = "alliance_bench_cards"
ACTOR = "system:bench"
BATCH_TARGET_SECONDS = 20.0
PDF_TARGET_CARDS_PER_SECOND = 1_000.0
CARD_COLUMNS = (
    "id",
    "card_no",
    "status",
    "batch_id",
    "key_version",
    "counter",
    "counter_unconfirmed",
    "level_rank",
    "created_at",
)
CARD_SEEN_TIMEOUT = 10.0
UID_READS = 50
GET_UID_APDU = bytes.fromhex("FFCA000000")
FIRST_UID = 0x5A000001


class Skipped(Exception):
    """The encoding part cannot run here; str() says why."""


class RunFailed(Exception):
    """The run itself went wrong (not just slow); str() says what."""


def seconds_since(started: float) -> float:
    return time.perf_counter() - started


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL as the plain postgresql:// URI psycopg.connect takes."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def checkpoint(url: str) -> None:
    """Flush dirty pages now so a checkpoint does not land inside a measurement (best effort)."""
    import psycopg

    with contextlib.suppress(psycopg.Error), psycopg.connect(libpq_url(url), autocommit=True) as connection:
        connection.execute("CHECKPOINT")


# --------------------------------------------------------------------------------------------- set-up


def make_app(url: str, secret_key: str):
    """The application on the benchmark database (the testing configuration, with its own secret)."""
    from server import create_app
    from server.config import TestingConfig

    return create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=url, SECRET_KEY=secret_key)


def migrate_and_seed(app) -> None:
    """The newest schema (the project's Alembic migrations), the alliance and one level."""
    from flask_migrate import upgrade

    from server.extensions import db
    from server.services import catalog
    from server.services.alliance import ensure_alliance
    from server.services.demo import DEMO_LEVELS
    from server.services.unit_of_work import transaction

    with app.app_context():
        logging.disable(logging.INFO)  # alembic's env.py turns its INFO lines on
        try:
            upgrade(directory=str(PROJECT_ROOT / "migrations"))
        finally:
            logging.disable(logging.NOTSET)
        with transaction():
            ensure_alliance()
            catalog.create_level(ACTOR, **DEMO_LEVELS[0])
        db.session.remove()


# ------------------------------------------------------------------------------------- the batch


@dataclass
class SqlTimer:
    """Time spent in cursor executes and from the COMMIT on, collected from SQLAlchemy engine events."""

    statements: int = 0
    seconds: float = 0.0
    commit_started: float | None = None
    _started: float = 0.0

    def before(self, *_args) -> None:
        self._started = time.perf_counter()

    def after(self, *_args) -> None:
        self.statements += 1
        self.seconds += seconds_since(self._started)

    def commit(self, *_args) -> None:
        self.commit_started = time.perf_counter()


@dataclass
class BatchResult:
    batch_id: str
    count: int
    seconds: float
    sql: SqlTimer
    commit_seconds: float
    cards: list  # PrintCard: number and check code
    fetch_seconds: float


def time_create_batch(app, url: str, count: int) -> BatchResult:
    """create_batch(actor, count) in its own transaction, timed; then the rows it wrote are checked."""
    from sqlalchemy import event, func, select

    from alliance_shared.print_files import PrintCard
    from server.extensions import db
    from server.models import AuditLog, Card
    from server.services import cards
    from server.services.cards import card_check_code

    checkpoint(url)
    with app.app_context():
        engine = db.engine
        timer = SqlTimer()
        listeners = [
            ("before_cursor_execute", timer.before),
            ("after_cursor_execute", timer.after),
            ("commit", timer.commit),
        ]
        for name, listener in listeners:
            event.listen(engine, name, listener)
        try:
            started = time.perf_counter()
            batch = cards.create_batch(ACTOR, count, name="bench.cards")
            seconds = seconds_since(started)
            commit_seconds = time.perf_counter() - timer.commit_started if timer.commit_started else 0.0
        finally:
            for name, listener in listeners:
                event.remove(engine, name, listener)
        batch_id = batch.id
        stored = db.session.scalar(select(func.count()).select_from(Card).where(Card.batch_id == batch_id))
        audited = db.session.scalar(
            select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.action == "card_batch.create", AuditLog.object_id == batch_id)
        )
        if stored != count or audited != 1:
            raise RunFailed(f"create_batch stored {stored} cards (expected {count}) and {audited} audit rows")
        started = time.perf_counter()
        numbers = list(db.session.scalars(select(Card.card_no).where(Card.batch_id == batch_id).order_by(Card.card_no)))
        fetch_seconds = seconds_since(started)
        cards = [PrintCard(number, card_check_code(number)) for number in numbers]  # as the batch-cards API gives
        db.session.remove()
    return BatchResult(batch_id, count, seconds, timer, commit_seconds, cards, fetch_seconds)


@dataclass
class CopyResult:
    rows_seconds: float  # making the rows in Python (numbers with check digits, ids): not part of the COPY time
    seconds: float
    foreign_keys: int


def time_copy(app, url: str, batch: BatchResult) -> CopyResult:
    """The limit: N rows shaped like create_batch's, COPYed by psycopg into a table like ``cards``."""
    import psycopg

    from server.domain.identifiers import make_card_number
    from server.extensions import db
    from server.models import AllianceSettings
    from server.models.base import new_id, utcnow

    with app.app_context():
        prefix = db.session.get(AllianceSettings, 1).card_number_prefix
        db.session.remove()
    started = time.perf_counter()
    now = utcnow()
    rows = [
        (new_id("crd"), make_card_number(prefix, serial), "created", batch.batch_id, 1, 0, False, 0, now)
        for serial in range(1, batch.count + 1)
    ]
    rows_seconds = seconds_since(started)
    with psycopg.connect(libpq_url(url)) as connection:
        connection.execute("DROP TABLE IF EXISTS cards_copy")
        connection.execute("CREATE TABLE cards_copy (LIKE cards INCLUDING ALL)")
        foreign_keys = connection.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'cards'::regclass AND contype = 'f'"
        ).fetchall()
        for (definition,) in foreign_keys:
            connection.execute(f"ALTER TABLE cards_copy ADD {definition}")
        connection.commit()
        checkpoint(url)
        started = time.perf_counter()
        with (
            connection.cursor() as cursor,
            cursor.copy(f"COPY cards_copy ({', '.join(CARD_COLUMNS)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        connection.commit()
        seconds = seconds_since(started)
        (copied,) = connection.execute("SELECT count(*) FROM cards_copy").fetchone()
        if copied != batch.count:
            raise RunFailed(f"COPY stored {copied} rows, expected {batch.count}")
    return CopyResult(rows_seconds, seconds, len(foreign_keys))


# ------------------------------------------------------------------------------------- print files


@dataclass
class ExportResult:
    pdf_cards: int
    pdf_seconds: float
    pdf_pages: int
    pdf_bytes: int
    csv_cards: int
    csv_seconds: float
    csv_bytes: int


def time_export(batch: BatchResult, pdf_cards: int, directory: Path) -> ExportResult:
    """write_pdf over the first ``pdf_cards`` numbers of the batch and write_csv over all of them."""
    from alliance_shared.print_files import CARDS_PER_PAGE, write_csv, write_pdf

    cards = batch.cards[:pdf_cards]
    pdf_path, csv_path = directory / f"{batch.batch_id}.pdf", directory / f"{batch.batch_id}.csv"
    started = time.perf_counter()
    pages = write_pdf(cards, str(pdf_path), title=f"bench.cards ({batch.batch_id})")
    pdf_seconds = seconds_since(started)
    if pages != max(1, math.ceil(len(cards) / CARDS_PER_PAGE)) or pdf_path.read_bytes()[:5] != b"%PDF-":
        raise RunFailed(f"write_pdf made {pages} pages for {len(cards)} cards")
    started = time.perf_counter()
    with csv_path.open("w", encoding="utf-8", newline="") as stream:
        written = write_csv(batch.cards, stream)
    csv_seconds = seconds_since(started)
    if written != len(batch.cards):
        raise RunFailed(f"write_csv wrote {written} rows for {len(batch.cards)} cards")
    return ExportResult(
        len(cards), pdf_seconds, pages, pdf_path.stat().st_size, written, csv_seconds, csv_path.stat().st_size
    )


# ------------------------------------------------------------------------- encoding over the virtual reader


@dataclass
class CardTiming:
    uid: str
    card_no: str
    apdus: int  # sent by the encoder (what `alliance-cards encode` prints)
    card_apdus: int  # received by the virtual card: the reader's UID read on connecting, then the encoder's
    seconds: float  # encoder.encode: from the first APDU to the server's confirmation
    http_requests: int
    http_seconds: float
    seen_seconds: float  # inserted until pcscd reported it and the reader connected (not in ``seconds``)
    removed_seconds: float  # taken off until pcscd reported the reader empty


@dataclass
class EncodingResult:
    reader: str
    started_pcscd: bool
    startup_seconds: float  # BatchEncoder.for_batch: the alliance keys and the batch's unfinished cards
    startup_requests: int
    cards: list[CardTiming] = field(default_factory=list)
    uid_round_trips: list[float] = field(default_factory=list)


def analyze_cards(app) -> None:
    """Planner statistics for the new batch, as autovacuum gathers them within about a minute: without
    them choosing the next card of the batch sorts all of its cards (about 60 ms a card at 100,000)."""
    from sqlalchemy import text

    from server.extensions import db

    with app.app_context():
        db.session.execute(text("ANALYZE cards"))
        db.session.commit()
        db.session.remove()


def staff_token(app) -> str:
    """A personal token of a new admin, made through the services."""
    from server.extensions import db
    from server.services import staff

    with app.app_context():
        user = staff.create_staff_user(ACTOR, f"bench-admin-{secrets.token_hex(4)}", "admin")
        token = staff.create_personal_token(ACTOR, user.id, "bench.cards").token
        db.session.remove()
    return token


def timed_client_class():
    from card_tools.client import StaffClient

    class TimedStaffClient(StaffClient):
        """The card tools' API client, counting its requests and the time they take."""

        requests = 0
        seconds = 0.0

        def request(self, *args, **kwargs):
            started = time.perf_counter()
            try:
                return super().request(*args, **kwargs)
            finally:
                self.requests += 1
                self.seconds += seconds_since(started)

    return TimedStaffClient


def encode_cards(app, batch_id: str, count: int, workdir: Path) -> EncodingResult:
    """Encode ``count`` blank virtual cards of the batch, one after the other, through a live server."""
    analyze_cards(app)
    token = staff_token(app)
    werkzeug = logging.getLogger("werkzeug")
    werkzeug.setLevel(logging.ERROR)
    from tests.hardware.pcscd import PcscdUnavailable, claimed_slot, running_pcscd

    try:
        with running_pcscd(workdir / "pcscd.log") as (slots, started_pcscd), claimed_slot(slots[0]) as slot:
            return _encode_on(app, batch_id, count, slot.reader, slot.port, started_pcscd, token)
    except PcscdUnavailable as exc:
        raise Skipped(str(exc)) from exc


def _encode_on(app, batch_id: str, count: int, reader_name: str, port: int, started_pcscd: bool, token: str):
    from alliance_shared.devices.pcsc_reader import PcscCardReader
    from card_tools.encoder import BatchEncoder
    from tests.hardware.virtual_mifare import VirtualMifareClassic1K
    from tests.hardware.vpcd import VPCD_HOST, VirtualCardConnection, VpcdUnavailable, wait_for_reader_state
    from tests.live_server import live_server

    if not wait_for_reader_state(reader_name, present=False, timeout=3.0):
        raise Skipped(f"a card is still in {reader_name!r}: is another virtual card connected to vpcd?")
    with live_server(app) as url:
        client = timed_client_class()(url, token)
        started = time.perf_counter()
        encoder = BatchEncoder.for_batch(client, batch_id)
        result = EncodingResult(reader_name, started_pcscd, seconds_since(started), client.requests)
        reader = PcscCardReader(reader_name)
        connection = VirtualCardConnection(VPCD_HOST, port, reader_name=reader_name)
        try:
            for index in range(count):
                card = VirtualMifareClassic1K(uid=(FIRST_UID + index).to_bytes(4, "big"))
                started = time.perf_counter()
                try:
                    connection.insert(card)
                except VpcdUnavailable as exc:
                    raise Skipped(str(exc)) from exc
                info = reader.wait_for_card(CARD_SEEN_TIMEOUT)
                seen_seconds = seconds_since(started)
                client.requests, client.seconds = 0, 0.0
                outcome = encoder.encode(reader, info.uid)
                if outcome.result != "encoded":
                    raise RunFailed(f"card {outcome.uid}: {outcome.result} {outcome.message}")
                timing = CardTiming(
                    outcome.uid,
                    outcome.card_no,
                    outcome.apdu_count,
                    len(card.apdu_log),
                    outcome.seconds,
                    client.requests,
                    client.seconds,
                    seen_seconds,
                    0.0,
                )
                if index == count - 1:  # the round trip of one APDU, on the card still in the reader
                    for _ in range(UID_READS):
                        started = time.perf_counter()
                        data, sw = reader.transmit(GET_UID_APDU)
                        result.uid_round_trips.append(seconds_since(started))
                        if sw != 0x9000 or data != info.uid:
                            raise RunFailed(f"GET UID answered {data.hex()} {sw:04X}")
                started = time.perf_counter()
                connection.remove()  # returns once pcscd reports the reader empty
                timing.removed_seconds = seconds_since(started)
                if connection.error is not None:
                    raise RunFailed(f"the virtual card failed: {connection.error!r}")
                result.cards.append(timing)
        finally:
            connection.remove(wait=False)
            reader.close()

    check_encoded(app, batch_id, result.cards)
    return result


def check_encoded(app, batch_id: str, cards: list[CardTiming]) -> None:
    """Every encoded card is issued on the server, bound to its chip."""
    from sqlalchemy import select

    from server.extensions import db
    from server.models import Card

    with app.app_context():
        rows = db.session.execute(
            select(Card.card_no, Card.chip_uid, Card.status).where(
                Card.batch_id == batch_id, Card.card_no.in_([card.card_no for card in cards])
            )
        ).all()
        db.session.remove()
    found = {card_no: (uid, status) for card_no, uid, status in rows}
    for card in cards:
        if found.get(card.card_no) != (card.uid, "issued"):
            raise RunFailed(f"card {card.card_no} is {found.get(card.card_no)} on the server, not issued to {card.uid}")


# ------------------------------------------------------------------------------------------- report


def _mean_p50(values: list[float]) -> str:
    return f"mean {statistics.fmean(values):.3f} s, p50 {statistics.median(values):.3f} s"


def report_batch(batch: BatchResult, copy: CopyResult) -> None:
    python_seconds = batch.seconds - batch.sql.seconds - batch.commit_seconds
    ratio = batch.seconds / copy.seconds
    met = "MET" if batch.seconds <= BATCH_TARGET_SECONDS else "NOT MET"
    print(f"\n== a batch of {batch.count:,} cards on PostgreSQL")
    print(f"create_batch            {batch.seconds:7.2f} s  = {batch.count / batch.seconds:,.0f} cards/s")
    print(
        f"    SQL statements      {batch.sql.seconds:7.2f} s  ({batch.sql.statements} executes; the cards go in one "
        "executemany)"
    )
    print(f"    COMMIT              {batch.commit_seconds:7.2f} s")
    print(f"    Python              {python_seconds:7.2f} s  (card numbers, ids, the rows, the ORM bulk insert)")
    print(
        f"plain COPY (limit)      {copy.seconds:7.2f} s  = {batch.count / copy.seconds:,.0f} rows/s into cards_copy "
        f"(LIKE cards INCLUDING ALL + its {copy.foreign_keys} foreign keys)"
    )
    print(
        f"    making the rows     {copy.rows_seconds:7.2f} s  (numbers and ids in Python, before the COPY: not timed)"
    )
    print(f"ratio create_batch / COPY {ratio:5.2f}")
    like_for_like = batch.seconds / (copy.seconds + copy.rows_seconds)
    print(f"    counting the row making in the COPY too: {like_for_like:.2f}")
    print(f"target <= {BATCH_TARGET_SECONDS:.0f} s: {met}")
    print(f"(reading the batch's {batch.count:,} numbers back: {batch.fetch_seconds:.2f} s)")


def report_export(export: ExportResult) -> None:
    rate = export.pdf_cards / export.pdf_seconds
    met = "MET" if rate >= PDF_TARGET_CARDS_PER_SECOND else "NOT MET"
    print("\n== print files")
    print(
        f"PDF  {export.pdf_cards:>7,} cards  {export.pdf_seconds:6.2f} s = {rate:8,.0f} cards/s  "
        f"({export.pdf_pages} pages, {export.pdf_bytes / 1e6:.1f} MB; face number, QR code, Code 128 per card)"
    )
    print(
        f"CSV  {export.csv_cards:>7,} cards  {export.csv_seconds:6.2f} s = "
        f"{export.csv_cards / export.csv_seconds:8,.0f} cards/s  ({export.csv_bytes / 1e6:.1f} MB)"
    )
    print(f"target PDF >= {PDF_TARGET_CARDS_PER_SECOND:,.0f} cards/s: {met}")


def report_encoding(result: EncodingResult | None, skipped: str | None, count: int, batch_size: int) -> None:
    print("\n== encoding over the virtual reader")
    if result is None:
        print(f"skipped: {skipped}")
        return
    cards = result.cards
    pcscd = "started for this run" if result.started_pcscd else "already running"
    print(f"reader {result.reader!r} (pcscd {pcscd}); server: werkzeug in this process, PostgreSQL (cards ANALYZEd)")
    print(
        f"encoder start-up        {result.startup_seconds:6.2f} s  ({result.startup_requests} requests: the alliance "
        f"keys and the {batch_size:,} cards of the batch, for interrupted encodings)"
    )
    header = ("uid", "card_no", "APDUs", "card", "encode", "HTTP", "seen", "removed")
    print("{:8}  {:16}  {:>5}  {:>4}  {:>7}  {:>13}  {:>6}  {:>7}".format(*header))
    for card in cards:
        http = f"{card.http_requests} req {card.http_seconds:5.3f}s"
        print(
            f"{card.uid:8}  {card.card_no:16}  {card.apdus:5d}  {card.card_apdus:4d}  {card.seconds:6.3f}s  "
            f"{http:>13}  {card.seen_seconds:5.3f}s  {card.removed_seconds:6.3f}s"
        )
    apdus = [card.apdus for card in cards]
    seconds = [card.seconds for card in cards]
    http = [card.http_seconds for card in cards]
    trips = result.uid_round_trips
    print(
        f"APDUs per card          {statistics.fmean(apdus):.0f} from the encoder "
        f"({statistics.fmean([card.card_apdus for card in cards]):.0f} reach the card with the reader's UID read)"
    )
    print(
        f"wall time per card      {_mean_p50(seconds)}  (from the first APDU to the confirmation; "
        "not the wait for pcscd to see the card)"
    )
    print(f"    of which HTTP       {_mean_p50(http)}  (plan and confirmation)")
    print(
        f"    the rest            {_mean_p50([s - h for s, h in zip(seconds, http, strict=True)])}  "
        "(APDUs, the read-back check, key derivation)"
    )
    trip_mean, trip_p50 = statistics.fmean(trips) * 1e3, statistics.median(trips) * 1e3
    print(
        f"one APDU round trip     mean {trip_mean:.2f} ms, p50 {trip_p50:.2f} ms "
        f"(GET UID x {len(trips)}) -> {statistics.fmean(apdus):.0f} APDUs ~ "
        f"{statistics.fmean(apdus) * statistics.median(trips):.3f} s"
    )
    print(
        f"waiting for pcscd       seen {_mean_p50([card.seen_seconds for card in cards])}; "
        f"removed {_mean_p50([card.removed_seconds for card in cards])}  (not in the wall time above)"
    )
    print(f"encoded {len(cards)} of {count} cards; each is issued on the server with its chip UID")


# ------------------------------------------------------------------------------------------------ main


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--batch-size", type=int, default=100_000, help="cards in the batch (and rows COPYed)")
    parser.add_argument(
        "--export-cards", type=int, default=5_000, help="cards of the batch in the timed PDF (the CSV has all of them)"
    )
    parser.add_argument("--cards", type=int, default=5, help="virtual cards to encode (0: skip encoding)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER_URL),
        help="the PostgreSQL server (its database part is only used for CREATE/DROP DATABASE)",
    )
    parser.add_argument("--keep", action="store_true", help=f"keep the database {DATABASE} afterwards")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a few seconds at tiny sizes, no encoding (does the benchmark run?), a unique database",
    )
    args = parser.parse_args(argv)
    args.database = DATABASE
    if args.smoke:
        args.batch_size, args.export_cards, args.cards = 1_000, 50, 0
        args.database = f"{DATABASE}_smoke_{os.getpid()}"
    from server.services.cards import MAX_BATCH

    if not 1 <= args.batch_size <= MAX_BATCH:
        parser.error(f"--batch-size must be 1 to {MAX_BATCH}")
    if args.export_cards < 1 or args.cards < 0:
        parser.error("--export-cards must be at least 1 and --cards at least 0")
    if args.cards > args.batch_size:
        parser.error("--cards cannot exceed --batch-size")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    base = server_url(args.database_url)
    url = database_url(base, args.database)
    batch = copy = export = encoding = failed = None
    skipped = "--cards 0"
    try:
        with tempfile.TemporaryDirectory(prefix="alliance-bench-cards-") as workdir:
            app = None
            try:
                started = time.perf_counter()
                recreate_database(base, args.database)
                app = make_app(url, secrets.token_urlsafe(32))
                migrate_and_seed(app)
                print(
                    f"prepared {args.database} in {seconds_since(started):.1f} s; creating a batch of "
                    f"{args.batch_size:,} cards",
                    flush=True,
                )
                batch = time_create_batch(app, url, args.batch_size)
                print(f"create_batch: {batch.seconds:.2f} s; now the COPY limit", flush=True)
                copy = time_copy(app, url, batch)
                print(f"COPY: {copy.seconds:.2f} s; now the print files", flush=True)
                export = time_export(batch, args.export_cards, Path(workdir))
                if args.cards:
                    print(f"print files done; encoding {args.cards} virtual cards", flush=True)
                    try:
                        encoding = encode_cards(app, batch.batch_id, args.cards, Path(workdir))
                    except Skipped as exc:
                        skipped = str(exc)
            finally:
                if app is not None:
                    with app.app_context():
                        from server.extensions import db

                        db.engine.dispose()
                if not args.keep:
                    drop_database(base, args.database)
    except RunFailed as exc:
        failed = str(exc)
    if batch and copy:
        report_batch(batch, copy)
    if export:
        report_export(export)
    if not failed:
        report_encoding(encoding, skipped, args.cards, args.batch_size)
        return 0
    print(f"\nrun FAILED: {failed}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
