"""Receiving codes into stock: importing files of 卡密 (CSV, XLSX) and generating the alliance's vouchers.

An import is resumable, so unlike other use cases it is several transactions (docs/benefits.md):

1. :func:`start_import` creates the ``BenefitImport`` of a purchase and a file (by its SHA-256), or finds the
   unfinished one of the same file: a crashed import continues from its checkpoint ``rows_done``.
2. Chunks of rows (:data:`CHUNK_ROWS`) are checked (``server/domain/benefit_rows.py``), de-duplicated by the
   keyed hash (within the file and against stock), encrypted under the id each code will have in stock, and
   staged in ``benefit_import_rows`` (PostgreSQL: ``COPY``) — each chunk, its rejected rows and the
   checkpoint committed together.
3. :func:`finish_import` receives the staged rows into ``benefit_codes`` in one transaction — or, asked
   all-or-nothing with rejected rows, receives nothing and marks the import refused. Staging rows are deleted.

:func:`import_file` runs all three with a progress callback (the CLI draws a rich progress bar).
:func:`generate_vouchers` makes a generated purchase's voucher codes (``server/domain/voucher_codes.py``).
"""

from __future__ import annotations

import base64
import bisect
import csv
import hashlib
import io
import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy import delete, func, insert, select, text, update

from server.domain import voucher_codes
from server.domain.benefit_rows import RowRefused, check_row, is_header, last4
from server.domain.errors import Conflict, InvalidRequest, NotFound
from server.domain.statuses import (
    VOUCHER_KINDS,
    BenefitImportStatus,
    BenefitPurchaseSource,
    BenefitPurchaseStatus,
)
from server.extensions import db
from server.models import BenefitCode, BenefitImport, BenefitImportRow, BenefitPurchase, BenefitSku
from server.models.base import new_id, utcnow
from server.security.benefit_secrets import sealer
from server.services.audit import audit
from server.services.benefit_catalog import create_purchase, get_purchase
from server.services.points import alliance_today
from server.services.unit_of_work import transaction, transactional

CHUNK_ROWS = 5_000
MAX_REPORT_ROWS = 1_000  # the report lists this many rejected rows; the count covers all
MAX_FILE_ROWS = 200_000
MAX_UPLOAD_BYTES = 16 * 1024 * 1024  # a file of 100,000 卡密 sent over HTTP (the CLI takes larger ones)
XLSX_MAGIC = b"PK\x03\x04"

Progress = Callable[[int, int], None]  # (rows done, rows in the file)


def read_rows(data: bytes, filename: str = "") -> Iterator[tuple[int, tuple]]:
    """(row number in the file, cells) of a CSV (UTF-8, with or without BOM; GBK accepted) or XLSX file,
    without a header row and blank rows. XLSX is read with openpyxl in read-only mode."""
    if data[:4] == XLSX_MAGIC or filename.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # a damaged or foreign file: one refusal, not a server error
            raise InvalidRequest("The file is not a readable XLSX workbook.") from exc
        try:
            rows = book.worksheets[0].iter_rows(values_only=True)
            yield from _numbered(rows)
        finally:
            book.close()
        return
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            content = data.decode("gbk")
        except UnicodeDecodeError:
            raise InvalidRequest("The file is neither UTF-8 nor GBK text, nor an XLSX workbook.") from None
    yield from _numbered(csv.reader(io.StringIO(content)))


def _numbered(rows) -> Iterator[tuple[int, tuple]]:
    for number, cells in enumerate(rows, start=1):
        cells = tuple(cells or ())
        if not any(cell not in (None, "") for cell in cells):
            continue
        if number == 1 and is_header(cells):
            continue
        yield number, cells


def count_rows(data: bytes, filename: str = "") -> int:
    """How many data rows the file holds (for the progress bar and the size limit)."""
    return sum(1 for _ in read_rows(data, filename))


@transactional
def start_import(actor, purchase_id: str, data: bytes, filename: str = "", all_or_nothing: bool = True):
    """The import of ``data`` into a purchase: a new one, or the unfinished (or finished) one of the same file."""
    purchase = get_purchase(purchase_id)
    if purchase.source == BenefitPurchaseSource.GENERATED:
        raise Conflict("A generated purchase's codes are generated, not imported.")
    if purchase.status == BenefitPurchaseStatus.CANCELLED:
        raise Conflict("This purchase is cancelled.")
    digest = hashlib.sha256(data).hexdigest()
    existing = db.session.scalar(
        select(BenefitImport).where(BenefitImport.purchase_id == purchase_id, BenefitImport.file_sha256 == digest)
    )
    if existing is not None:
        return existing
    if purchase.status != BenefitPurchaseStatus.ORDERED:
        raise Conflict("This purchase has been received already.")
    job = BenefitImport(
        purchase_id=purchase_id,
        filename=filename[:200],
        file_sha256=digest,
        all_or_nothing=all_or_nothing,
        created_by=actor.key,
    )
    db.session.add(job)
    db.session.flush()
    audit(actor.key, "benefit_import.start", "benefit_import", job.id, purchase=purchase_id, filename=filename)
    return job


def _staged_hashes(import_id: str) -> set[str]:
    return set(db.session.scalars(select(BenefitImportRow.lookup_hash).where(BenefitImportRow.import_id == import_id)))


def _in_stock(sku_id: str, hashes: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(hashes), 1000):
        part = hashes[start : start + 1000]
        found |= set(
            db.session.scalars(
                select(BenefitCode.lookup_hash).where(BenefitCode.sku_id == sku_id, BenefitCode.lookup_hash.in_(part))
            )
        )
    return found


STAGE_COLUMNS = ("import_id", "row_number", "code_id", "lookup_hash", "sealed", "last4", "expires_on")


def _bulk_insert_staged(rows: list[tuple]) -> None:
    """Stage rows: PostgreSQL ``COPY`` through psycopg, elsewhere one executemany."""
    if not rows:
        return
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        driver = connection.connection.driver_connection
        statement = f"COPY benefit_import_rows ({', '.join(STAGE_COLUMNS)}) FROM STDIN"
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
        return
    db.session.execute(insert(BenefitImportRow), [dict(zip(STAGE_COLUMNS, row, strict=True)) for row in rows])


def _stage_chunk(job: BenefitImport, sku_id: str, chunk: list[tuple[int, tuple]], seen: set[str], ctx) -> None:
    """Check, de-duplicate, encrypt and stage one chunk; record its rejections and the checkpoint."""
    today, default_expiry, seal = ctx
    accepted: list[tuple[int, str, str, object, str]] = []
    rejected: list[dict] = []
    for number, cells in chunk:
        try:
            code, secret, expires_on = check_row(cells, today, default_expiry)
        except RowRefused as refusal:
            rejected.append({"row": number, "reason": refusal.reason, "last4": last4(str(cells[0] or ""))[-4:]})
            continue
        digest = seal.lookup_hash(code)
        if digest in seen:
            rejected.append({"row": number, "reason": "duplicate_in_file", "last4": last4(code)})
            continue
        seen.add(digest)
        accepted.append((number, code, secret, expires_on, digest))
    staged = []  # duplicates in stock are found once, by one join, when the import finishes
    randomness = os.urandom(24 * len(accepted))  # per code: 12 bytes of id (as new_id draws), a 12-byte nonce
    for index, (number, code, secret, expires_on, digest) in enumerate(accepted):
        drawn = randomness[24 * index : 24 * index + 24]
        code_id, nonce = "bcd_" + base64.urlsafe_b64encode(drawn[:12]).decode(), drawn[12:]
        staged.append(
            (job.id, number, code_id, digest, seal.seal(code_id, sku_id, code, secret, nonce), last4(code), expires_on)
        )
    _bulk_insert_staged(staged)
    rejected.sort(key=lambda item: item["row"])
    report = list(job.report or [])
    report.extend(rejected[: max(0, MAX_REPORT_ROWS - len(report))])
    result = db.session.execute(
        update(BenefitImport)
        .where(BenefitImport.id == job.id, BenefitImport.rows_done == job.rows_done)  # one worker per checkpoint
        .values(rows_done=chunk[-1][0], rows_rejected=BenefitImport.rows_rejected + len(rejected), report=report)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict("This file is being imported by another run.")


def stage_rows(job_id: str, data: bytes, filename: str = "", progress: Progress | None = None) -> None:
    """Stage every row after the checkpoint, one committed chunk at a time (resumable)."""
    job = db.session.get(BenefitImport, job_id)
    purchase = db.session.get(BenefitPurchase, job.purchase_id)
    rows = list(itertools.islice(read_rows(data, filename), MAX_FILE_ROWS + 1))
    if len(rows) > MAX_FILE_ROWS:
        raise InvalidRequest("A file may hold at most 200000 codes.")
    seen = _staged_hashes(job.id)
    ctx = (alliance_today(), purchase.valid_until, sealer())
    start = bisect.bisect_right([number for number, _ in rows], job.rows_done)
    done, total = start, len(rows)
    if progress:
        progress(done, total)
    for first in range(start, total, CHUNK_ROWS):
        chunk = rows[first : first + CHUNK_ROWS]
        with transaction():
            _stage_chunk(job, purchase.sku_id, chunk, seen, ctx)
        db.session.refresh(job)
        done += len(chunk)
        if progress:
            progress(done, total)


@transactional
def finish_import(actor, job_id: str) -> BenefitImport:
    """Receive the staged rows into stock (or nothing: all-or-nothing with rejected rows); staging is emptied."""
    job = db.session.get(BenefitImport, job_id, with_for_update=True)
    if job is None:
        raise NotFound("No such import.")
    if job.status != BenefitImportStatus.STAGING:
        return job
    purchase = db.session.get(BenefitPurchase, job.purchase_id, with_for_update=True)
    staged_rows = select(BenefitImportRow).where(BenefitImportRow.import_id == job.id)
    staged = db.session.scalar(select(func.count()).select_from(staged_rows.subquery()))
    # codes the SKU has in stock already (one join over the staged rows, by the unique keyed hash)
    late = list(
        db.session.execute(
            select(BenefitImportRow.row_number, BenefitImportRow.last4)
            .join(
                BenefitCode,
                (BenefitCode.sku_id == purchase.sku_id) & (BenefitCode.lookup_hash == BenefitImportRow.lookup_hash),
            )
            .where(BenefitImportRow.import_id == job.id)
        )
    )
    report = list(job.report or [])
    rejected = job.rows_rejected + len(late)
    report.extend({"row": number, "reason": "duplicate_in_stock", "last4": tail} for number, tail in late)
    report.sort(key=lambda item: item["row"])
    del report[MAX_REPORT_ROWS:]
    if late:
        db.session.execute(
            delete(BenefitImportRow).where(
                BenefitImportRow.import_id == job.id, BenefitImportRow.row_number.in_([n for n, _ in late])
            )
        )
        staged -= len(late)
    awaited = purchase.quantity - purchase.received_count
    if staged > awaited:
        report.append({"row": 0, "reason": "over_quantity", "last4": ""})
        rejected += staged - awaited
    refused = (job.all_or_nothing and rejected > 0) or staged > awaited or staged == 0
    now = utcnow()
    if refused:
        received = 0
    else:
        received = _receive(job, purchase)
        db.session.execute(
            update(BenefitPurchase)
            .where(BenefitPurchase.id == purchase.id, BenefitPurchase.received_count == purchase.received_count)
            .values(
                received_count=purchase.received_count + received,
                status=BenefitPurchaseStatus.RECEIVED,
                received_at=now,
            )
        )
    db.session.execute(delete(BenefitImportRow).where(BenefitImportRow.import_id == job.id))
    job.status = BenefitImportStatus.REFUSED if refused else BenefitImportStatus.RECEIVED
    job.rows_rejected, job.rows_received, job.report, job.finished_at = rejected, received, report, now
    audit(
        actor.key,
        "benefit_import.refuse" if refused else "benefit_import.receive",
        "benefit_import",
        job.id,
        purchase=purchase.id,
        received=received,
        rejected=rejected,
    )
    db.session.flush()
    return job


def _receive(job: BenefitImport, purchase: BenefitPurchase) -> int:
    """Move the staged rows into stock in one statement (the unique keyed hash per SKU guards duplicates)."""
    columns = "id, sku_id, purchase_id, lookup_hash, sealed, last4, expires_on, status, void_reason, created_at"
    result = db.session.execute(
        text(
            f"INSERT INTO benefit_codes ({columns}) "
            "SELECT code_id, :sku_id, :purchase_id, lookup_hash, sealed, last4, expires_on, 'available', '', :now "
            "FROM benefit_import_rows WHERE import_id = :import_id"
        ),
        {
            "sku_id": purchase.sku_id,
            "purchase_id": purchase.id,
            "import_id": job.id,
            "now": _bind_now(),
        },
    )
    return result.rowcount


def _bind_now():
    """Now as the UTC column type stores it on this database (naive on SQLite)."""
    now = utcnow()
    return now.replace(tzinfo=None) if db.session.get_bind().dialect.name == "sqlite" else now


def import_file(
    actor,
    purchase_id: str,
    data: bytes,
    filename: str = "",
    all_or_nothing: bool = True,
    progress: Progress | None = None,
) -> BenefitImport:
    """Import a file of 卡密 into a purchase: start (or resume), stage every chunk, then receive or refuse."""
    job = start_import(actor, purchase_id, data, filename, all_or_nothing)
    if job.status != BenefitImportStatus.STAGING:
        return job
    stage_rows(job.id, data, filename, progress)
    return finish_import(actor, job.id)


def import_path(actor, purchase_id: str, path: Path, **kwargs) -> BenefitImport:
    """:func:`import_file` of a file on disk."""
    return import_file(actor, purchase_id, Path(path).read_bytes(), Path(path).name, **kwargs)


def get_import(import_id: str) -> BenefitImport:
    job = db.session.get(BenefitImport, import_id)
    if job is None:
        raise NotFound("No such import.")
    return job


@transactional
def order_purchase(actor, **fields) -> BenefitPurchase:
    """A purchase batch (``benefit_catalog.create_purchase``); a generated one's vouchers are made at once."""
    purchase = create_purchase(actor, **fields)
    if purchase.source == BenefitPurchaseSource.GENERATED:
        generate_vouchers(actor, purchase.id)
    return purchase


@transactional
def generate_vouchers(actor, purchase_id: str) -> BenefitPurchase:
    """Generate a generated purchase's voucher codes into stock: CSPRNG, check character, unique per SKU,
    stored encrypted with their keyed hash (the member sees the code when it is issued)."""
    purchase = db.session.get(BenefitPurchase, purchase_id, with_for_update=True)
    if purchase is None:
        raise NotFound("No such purchase.")
    if purchase.source != BenefitPurchaseSource.GENERATED:
        raise Conflict("Only a generated purchase's codes are generated here.")
    if purchase.status != BenefitPurchaseStatus.ORDERED:
        raise Conflict("This purchase has been received already.")
    sku = db.session.get(BenefitSku, purchase.sku_id)
    if sku.kind not in VOUCHER_KINDS:
        raise Conflict("Only the alliance's vouchers are generated.")
    seal = sealer()
    expires_on = purchase.valid_until or sku.valid_until
    made: dict[str, str] = {}
    while len(made) < purchase.quantity:
        wanted = min(CHUNK_ROWS, purchase.quantity - len(made))
        fresh = {}
        while len(fresh) < wanted:
            code = voucher_codes.new_code()
            digest = seal.lookup_hash(code)
            if digest not in made:
                fresh[digest] = code
        for digest in _in_stock(sku.id, list(fresh)):  # a collision with stock: astronomically rare, skipped
            del fresh[digest]
        rows = []
        for digest, code in fresh.items():
            code_id = new_id("bcd")
            rows.append(
                dict(
                    id=code_id,
                    sku_id=sku.id,
                    purchase_id=purchase.id,
                    lookup_hash=digest,
                    sealed=seal.seal(code_id, sku.id, code, ""),
                    last4=last4(code),
                    expires_on=expires_on,
                )
            )
        db.session.execute(insert(BenefitCode), rows)
        made.update(fresh)
    purchase.received_count = len(made)
    purchase.status = BenefitPurchaseStatus.RECEIVED
    purchase.received_at = utcnow()
    audit(actor.key, "benefit_purchase.generate", "benefit_purchase", purchase.id, quantity=len(made))
    db.session.flush()
    return purchase
