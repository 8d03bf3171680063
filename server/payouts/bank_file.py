"""The bank transfer file (批量代付): a CSV batch the finance staff upload to the bank's corporate portal.

Columns, one row per payout, in the order the common Chinese bank templates use::

    序号, 收款人户名, 收款人账号, 收款银行, 金额(元), 用途, 我方流水号

``金额`` is yuan with exactly two decimals, made from integer fen (``12800`` → ``128.00``), never through a
float. The file is GBK-encoded by default (what most bank portals read; ``PAYOUT_BANK_FILE_ENCODING``),
with CRLF line ends, and a last summary row ``合计, <count>, , , <total>``. ``我方流水号`` is the
withdrawal's ``out_detail_no``; the bank echoes it in its result file, which
:func:`read_result_file` reads back (``我方流水号, 状态 (成功/失败), 失败原因``).

Submitting only writes the file: every order stays pending until the bank's result is imported, and
a reference appears in at most one file (the service exports only withdrawals not yet sent).
"""

from __future__ import annotations

import csv
import io

from alliance_shared.money import format_yuan
from server.payouts import FAILED, PENDING, SUCCEEDED, PayoutOrder, PayoutResult

HEADER = ["序号", "收款人户名", "收款人账号", "收款银行", "金额(元)", "用途", "我方流水号"]
RESULT_HEADER = ["我方流水号", "状态", "失败原因"]
RESULT_STATUSES = {"成功": SUCCEEDED, "失败": FAILED, "success": SUCCEEDED, "failed": FAILED}


def _cell(value: str) -> str:
    """A cell as the bank reads it: no line breaks, and no leading formula character (CSV injection)."""
    value = " ".join(str(value).split())
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def bank_file(orders: list[PayoutOrder]) -> str:
    """The CSV text of a batch (encode it with the configured encoding)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for number, order in enumerate(orders, start=1):
        writer.writerow(
            [
                number,
                _cell(order.account_name),
                _cell(order.account_number),
                _cell(order.bank),
                format_yuan(order.amount_fen),
                _cell(order.purpose),
                order.out_detail_no,
            ]
        )
    writer.writerow(["合计", len(orders), "", "", format_yuan(sum(order.amount_fen for order in orders)), "", ""])
    return out.getvalue()


def read_result_file(text: str) -> list[PayoutResult]:
    """The bank's answer: one result per reference (unknown statuses raise ValueError)."""
    rows = list(csv.reader(io.StringIO(text)))
    if rows and rows[0][:1] == [RESULT_HEADER[0]]:
        rows = rows[1:]
    results = []
    for row in rows:
        if not row or not row[0].strip():
            continue
        reference, status = row[0].strip(), (row[1].strip() if len(row) > 1 else "")
        if status not in RESULT_STATUSES:
            raise ValueError(f"unknown status {status!r} for {reference}")
        reason = row[2].strip() if len(row) > 2 else ""
        results.append(PayoutResult(reference, RESULT_STATUSES[status], reason if status in ("失败", "failed") else ""))
    return results


class BankFileChannel:
    """Collects the orders into :attr:`last_file` (bytes, configured encoding); every order is pending."""

    name = "bank_file"

    def __init__(self, encoding: str = "gbk"):
        self.encoding = encoding
        self.last_file: bytes = b""

    @classmethod
    def from_config(cls, config) -> BankFileChannel:
        return cls(config.get("PAYOUT_BANK_FILE_ENCODING", "gbk"))

    def submit(self, orders: list[PayoutOrder]) -> list[PayoutResult]:
        self.last_file = bank_file(orders).encode(self.encoding)
        return [PayoutResult(order.out_detail_no, PENDING) for order in orders]
