"""The receipt a terminal prints, and its layout as fixed-width text lines (CJK characters take 2 columns)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

from alliance_shared import voucher_codes
from pos_client.money import yuan
from pos_client.payments import method_name

COLUMNS_BY_WIDTH_MM = {58: 32, 80: 48}
"""Columns of Font A (12x24 dots) on 58 mm and 80 mm paper; a GB18030 character takes two."""

LANGUAGES = ("zh", "en")

_LABELS = {
    "zh": {
        "sale_title": "消费小票",
        "refund_title": "退款凭证",
        "address": "地址",
        "terminal": "终端",
        "receipt_no": "小票号",
        "original_receipt_no": "原小票号",
        "time": "时间",
        "amount": "消费金额",
        "discount": "会员折扣",
        "redeem": "积分抵扣({points}分)",
        "voucher": "券抵扣 尾号{last4}",
        "voucher_restored": "优惠券",
        "voucher_restored_yes": "已退回",
        "voucher_restored_no": "未退回",
        "gift_title": "赠 券",
        "gift_code": "券码",
        "gift_expires": "有效期至",
        "gift_hint": "下次消费出示此码抵扣",
        "payable": "实付金额",
        "refund_amount": "退款金额",
        "member": "会员",
        "phone": "手机",
        "level": "等级",
        "points_earned": "本次积分",
        "points_reversed": "扣回积分",
        "points_restored": "退回积分",
        "points_balance": "积分余额",
        "balance_pending": "上传后更新",
        "offline": "离线交易 待上传",
        "payment_method": "支付方式",
        "refund_method": "退款方式",
        "reason": "退款原因",
        "reprint": "** 重打 **",
        "scan_qr": "扫码查看电子小票",
        "thanks": "谢谢惠顾，欢迎再次光临",
    },
    "en": {
        "sale_title": "SALES RECEIPT",
        "refund_title": "REFUND RECEIPT",
        "address": "Address",
        "terminal": "Terminal",
        "receipt_no": "Receipt No",
        "original_receipt_no": "Original No",
        "time": "Time",
        "amount": "Amount",
        "discount": "Member discount",
        "redeem": "Points used ({points})",
        "voucher": "Voucher ..{last4}",
        "voucher_restored": "Voucher",
        "voucher_restored_yes": "returned",
        "voucher_restored_no": "not returned",
        "gift_title": "GIFT VOUCHER",
        "gift_code": "Code",
        "gift_expires": "Valid until",
        "gift_hint": "Show this code on your next visit",
        "payable": "Total paid",
        "refund_amount": "Refund amount",
        "member": "Member",
        "phone": "Phone",
        "level": "Level",
        "points_earned": "Points earned",
        "points_reversed": "Points reversed",
        "points_restored": "Points returned",
        "points_balance": "Points balance",
        "balance_pending": "after upload",
        "offline": "OFFLINE SALE - PENDING UPLOAD",
        "payment_method": "Paid by",
        "refund_method": "Refunded by",
        "reason": "Reason",
        "reprint": "** REPRINT **",
        "scan_qr": "Scan for your e-receipt",
        "thanks": "Thank you, see you again",
    },
}


@dataclass(frozen=True)
class RefundInfo:
    """What a refund gave back: money in fen and the points moved (from the refund API response)."""

    refund_fen: int
    points_reversed: int = 0
    points_restored: int = 0
    reason: str = ""
    voucher_restored: bool | None = None  # the sale's voucher given back (None: the sale had none)


@dataclass(frozen=True)
class GiftInfo:
    """A gift voucher the sale granted (满赠): printed with its code as text and as a QR code."""

    name: str
    code: str
    expires_on: str = ""


@dataclass(frozen=True)
class Receipt:
    """Everything printed on one sale (or refund) receipt; money in integer fen."""

    merchant_name: str
    receipt_no: str
    time: datetime
    amount_fen: int
    payable_fen: int
    merchant_address: str = ""
    terminal_name: str = ""
    discount_fen: int = 0
    redeem_points: int = 0
    redeem_value_fen: int = 0
    points_earned: int = 0
    points_balance: int | None = None
    level_name: str = ""
    member_phone: str = ""
    member_name: str = ""
    ereceipt_url: str = ""
    offline: bool = False
    refund: RefundInfo | None = field(default=None)
    payment_method: str = ""  # cash, wechat, alipay, card, other (pos_client/payments.py)
    reprint: bool = False  # printed again (F8 / reprint): marked 重打
    voucher_fen: int = 0  # taken off by the voucher (after the level discount, before points)
    voucher_name: str = ""
    voucher_last4: str = ""
    gift: GiftInfo | None = None


@dataclass(frozen=True)
class ReceiptLayout:
    """A receipt laid out in sections: the printer prints the header big, then the body, the gift voucher's lines
    and its QR code (if any), the e-receipt's QR code between body and footer."""

    columns: int
    header: list[str]
    body: list[str]
    qr_url: str
    footer: list[str]
    gift: list[str] = field(default_factory=list)
    gift_qr: str = ""

    def lines(self) -> list[str]:
        """All text lines in print order (the QR codes, if any, sit after the gift lines and before the footer)."""
        return [*self.header, *self.body, *self.gift, *self.footer]


def char_width(char: str) -> int:
    """Columns a character takes on a thermal printer in Chinese mode: 2 for CJK (and ambiguous), 0 for combining."""
    if unicodedata.combining(char):
        return 0
    if ord(char) < 0x80:
        return 1
    # Ambiguous-width characters (·, ×, —, ①) are double-byte GB18030 codes, printed double width.
    return 2 if unicodedata.east_asian_width(char) in ("W", "F", "A") else 1


def text_width(text: str) -> int:
    """Columns a string takes on the receipt."""
    return sum(char_width(char) for char in text)


def mask_phone(phone: str) -> str:
    """An 11-digit mainland mobile number with its middle four digits hidden; anything else as given."""
    if re.fullmatch(r"1\d{10}", phone):
        return f"{phone[:3]}****{phone[7:]}"
    return phone


def mask_name(name: str) -> str:
    """A name with all but its first (and, from three characters, last) character hidden: 张* / 王*明."""
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def columns_for(width_mm: int) -> int:
    """Columns of Font A for a paper width of 58 or 80 mm."""
    try:
        return COLUMNS_BY_WIDTH_MM[width_mm]
    except KeyError:
        raise ValueError(f"Unsupported paper width {width_mm} mm; use 58 or 80.") from None


def layout_receipt(receipt: Receipt, width_mm: int = 58, lang: str = "zh") -> ReceiptLayout:
    """Lay the receipt out for the paper width; every line is exactly the paper's column count wide."""
    if lang not in LANGUAGES:
        raise ValueError(f"Unsupported receipt language {lang!r}; use one of {', '.join(LANGUAGES)}.")
    columns = columns_for(width_mm)
    label = _LABELS[lang]
    sep = _label_separator(lang)
    rule = "-" * columns

    header = [_center(line, columns) for line in _wrap(receipt.merchant_name, columns)]
    body: list[str] = []
    if receipt.merchant_address:
        body += [_center(line, columns) for line in _wrap(receipt.merchant_address, columns)]
    title = label["refund_title"] if receipt.refund else label["sale_title"]
    body.append(_center(title, columns))
    if receipt.reprint:
        body.append(_center(label["reprint"], columns))
    body.append(rule)
    if receipt.terminal_name:
        body += _pair(label["terminal"] + sep, receipt.terminal_name, columns)
    body += _pair(label["original_receipt_no" if receipt.refund else "receipt_no"] + sep, receipt.receipt_no, columns)
    body += _pair(label["time"] + sep, receipt.time.strftime("%Y-%m-%d %H:%M:%S"), columns)
    body.append(rule)

    body += _pair(label["amount"], yuan(receipt.amount_fen), columns)
    body += _pair(label["discount"], yuan(-receipt.discount_fen), columns)
    if receipt.voucher_fen or receipt.voucher_name:  # the code's last four and the amount, then the voucher's name
        body += _pair(label["voucher"].format(last4=receipt.voucher_last4), yuan(-receipt.voucher_fen), columns)
        body += [_pad("  " + line, columns) for line in _wrap(receipt.voucher_name, columns - 2)]
    if receipt.redeem_points:
        body += _pair(label["redeem"].format(points=receipt.redeem_points), yuan(-receipt.redeem_value_fen), columns)
    body += _pair(label["payable"], yuan(receipt.payable_fen), columns)
    if receipt.refund:
        body += _pair(label["refund_amount"], yuan(receipt.refund.refund_fen), columns)
    if receipt.payment_method:
        method = label["refund_method" if receipt.refund else "payment_method"] + sep
        body += _pair(method, method_name(receipt.payment_method, lang), columns)
    if receipt.refund and receipt.refund.reason:
        body += _pair(label["reason"] + sep, receipt.refund.reason, columns)
    if receipt.refund and receipt.refund.voucher_restored is not None:
        restored = label["voucher_restored_yes" if receipt.refund.voucher_restored else "voucher_restored_no"]
        body += _pair(label["voucher_restored"] + sep, restored, columns)
    body.append(rule)

    if receipt.member_name or receipt.member_phone or receipt.refund:
        if receipt.member_name:
            body += _pair(label["member"] + sep, mask_name(receipt.member_name), columns)
        if receipt.member_phone:
            body += _pair(label["phone"] + sep, mask_phone(receipt.member_phone), columns)
        if receipt.level_name:
            body += _pair(label["level"] + sep, receipt.level_name, columns)
        if receipt.refund:
            body += _pair(label["points_reversed"], f"-{receipt.refund.points_reversed}", columns)
            body += _pair(label["points_restored"], f"+{receipt.refund.points_restored}", columns)
        else:
            body += _pair(label["points_earned"], f"+{receipt.points_earned}", columns)
        balance = label["balance_pending"] if receipt.points_balance is None else str(receipt.points_balance)
        body += _pair(label["points_balance"], balance, columns)
        body.append(rule)
    if receipt.offline:
        body.append(_center(label["offline"], columns))

    gift: list[str] = []
    if receipt.gift is not None:
        gift.append(_center(label["gift_title"], columns))
        gift += [_pad(line, columns) for line in _wrap(receipt.gift.name, columns)]
        gift += _pair(
            label["gift_code"] + sep, voucher_codes.display(voucher_codes.normalize(receipt.gift.code)), columns
        )
        if receipt.gift.expires_on:
            gift += _pair(label["gift_expires"] + sep, receipt.gift.expires_on, columns)
        gift += [_center(line, columns) for line in _wrap(label["gift_hint"], columns)]

    footer: list[str] = []
    if receipt.ereceipt_url:
        footer.append(_center(label["scan_qr"], columns))
    footer += [_center(line, columns) for line in _wrap(label["thanks"], columns)]
    gift_qr = voucher_codes.normalize(receipt.gift.code) if receipt.gift is not None else ""
    return ReceiptLayout(
        columns=columns,
        header=header,
        body=body,
        qr_url=receipt.ereceipt_url,
        footer=footer,
        gift=gift,
        gift_qr=gift_qr,
    )


def render_lines(receipt: Receipt, width_mm: int = 58, lang: str = "zh") -> list[str]:
    """The receipt as text lines, each exactly 32 (58 mm) or 48 (80 mm) columns wide."""
    return layout_receipt(receipt, width_mm, lang).lines()


def _label_separator(lang: str) -> str:
    return "：" if lang == "zh" else ": "


def _pad(text: str, columns: int) -> str:
    return text + " " * (columns - text_width(text))


def _center(text: str, columns: int) -> str:
    left = (columns - text_width(text)) // 2
    return _pad(" " * left + text, columns)


def _pair(label: str, value: str, columns: int) -> list[str]:
    """Label on the left, value right-aligned; on two lines when they do not fit on one."""
    gap = columns - text_width(label) - text_width(value)
    if gap >= 1:
        return [label + " " * gap + value]
    lines = [_pad(line, columns) for line in _wrap(label, columns)]
    value_lines = _wrap(value, columns)
    lines += [_pad(line, columns) for line in value_lines[:-1]]
    lines.append(" " * (columns - text_width(value_lines[-1])) + value_lines[-1])
    return lines


def _wrap(text: str, columns: int) -> list[str]:
    """Split text into lines of at most columns display columns (never splitting a double-width character)."""
    lines: list[str] = []
    current, used = "", 0
    for char in text:
        width = char_width(char)
        if used + width > columns:
            lines.append(current)
            current, used = "", 0
        current += char
        used += width
    lines.append(current)
    return lines
