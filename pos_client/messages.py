"""What the POS tells the cashier, in Simplified Chinese (default) and English."""

from __future__ import annotations

LANGUAGES = ("zh", "en")

MESSAGES: dict[str, tuple[str, str]] = {
    "server_unreachable": ("服务器无法连接：{reason}", "Server unreachable: {reason}"),
    "offline_queued": (
        "服务器无法连接，已按离线交易保存，联网后自动上传（待上传 {pending} 笔）",
        "Server unreachable: sale saved offline, it uploads when the server is back ({pending} waiting)",
    ),
    "outcome_unknown": (
        "服务器无应答，交易已保存待上传，联网后自动确认。请勿重复收款",
        "No answer from the server: the sale is saved and will be confirmed when the server is back. "
        "Do not charge again",
    ),
    "outcome_unknown_redeem": (
        "服务器无应答，积分抵扣未能确认：交易已保存，联网后自动确认，确认前不打印小票。请稍后点“上传”查看结果",
        "No answer from the server: the points redemption is not confirmed. The sale is saved and confirmed "
        "when the server is back; no receipt until then. Press Upload later to see the result",
    ),
    "redeem_offline": (
        "离线状态不能使用积分抵扣，请选择不抵扣后继续",
        "Points cannot be redeemed offline; choose no redemption to continue",
    ),
    "offline_needs_card": (
        "离线状态只能刷实体会员卡（会员码、手机号需联网验证）",
        "Offline only a chip card can be used (member codes and phone numbers need the server)",
    ),
    "offline_no_info": (
        "本机尚未从服务器取得离线资料，无法离线收银，请先联网",
        "This terminal has no offline data from the server yet; connect to the server first",
    ),
    "offline_over_sale_cap": (
        "离线单笔金额不能超过 {limit} 元",
        "An offline sale may not exceed {limit} yuan",
    ),
    "offline_over_shift_cap": (
        "本班离线交易已达上限 {limit} 笔，请联网后继续",
        "This shift reached its limit of {limit} offline sales; reconnect to continue",
    ),
    "offline_too_old": (
        "有离线交易超过 {hours} 小时未上传，请先联网上传",
        "An offline sale has waited more than {hours} hours; reconnect and upload first",
    ),
    "card_invalid_offline": ("卡片校验失败：{reason}", "The card failed its check: {reason}"),
    "level_unknown_offline": (
        "本店没有该卡等级的离线折扣资料，按原价收银",
        "No offline discount for this card's level at this shop: full price",
    ),
    "card_write_failed": (
        "卡片写入未完成（卡片过早移开），本次交易不受影响；请会员下次消费时再次刷卡",
        "The card update was not written (card removed too early); the sale is not affected, "
        "the member should tap again next time",
    ),
    "card_removed": ("卡片过早移开，交易未受影响，请重新刷卡", "The card was removed too early; please tap again"),
    "reader_missing": ("读卡器故障：未连接读卡器，请检查读卡器的 USB 线", "Card reader problem: no reader connected"),
    "reader_service": (
        "读卡器故障：读卡服务（pcscd）未运行，请联系管理员",
        "Card reader problem: the smart card service (pcscd) is not running",
    ),
    "no_card": ("未检测到卡片，请将会员卡放在读卡器上再试", "No card on the reader: place the card and try again"),
    "not_alliance_card": (
        "不是本联盟的会员卡，或卡片未正确发卡",
        "Not an alliance card, or the card was not issued correctly",
    ),
    "card_read_failed": (
        "读卡失败，请重新刷卡；多次失败说明卡片可能损坏",
        "The card could not be read; tap again (a card that keeps failing may be damaged)",
    ),
    "printer_offline": (
        "交易已完成，但打印机无法打印：{reason}。请检查打印机后点“重打”",
        "The sale is complete but the printer failed: {reason}. Check the printer, then reprint",
    ),
    "printer_offline_shift": (
        "交班单无法打印：{reason}。本班未结束，请检查打印机后再交班",
        "The shift report could not be printed: {reason}. The shift stays open; check the printer and close it again",
    ),
    "no_member": ("请先识别会员（刷卡、扫码或输入手机号）", "Identify the member first (card, code or phone)"),
    "sale_already_done": (
        "本单已完成。下一位顾客请按 Esc 后重新识别会员",
        "This sale is done. For the next customer press Esc and identify the member again",
    ),
    "amount_invalid": ("请输入金额，例如 128.00", "Enter an amount such as 128.00"),
    "redeem_points_invalid": ("请输入要抵扣的积分数（正整数）", "Enter the points to redeem (a whole number)"),
    "no_quote": ("请先输入金额", "Enter the amount first"),
    "nothing_to_reprint": ("没有可重打的小票", "No receipt to reprint"),
    "refund_needs_server": ("退款需要联网，请稍后再试", "Refunds need the server; try again later"),
    "receipt_not_found": ("找不到小票号 {receipt_no} 的交易", "No sale with receipt number {receipt_no}"),
    "offline_receipt_pending": (
        "该交易尚未上传，联网上传后才能退款",
        "This sale has not been uploaded yet; refunds are possible once it is",
    ),
    "server_refused": ("服务器拒绝：{message}（{code}）", "The server refused: {message} ({code})"),
    "sale_done": ("交易成功，小票号 {receipt_no}", "Sale approved, receipt {receipt_no}"),
    "sale_offline_done": (
        "离线交易已保存，联网后上传（待上传 {pending} 笔）",
        "Offline sale saved ({pending} waiting)",
    ),
    # --- till-money ---
    "refund_reason_missing": ("请输入退款原因", "Enter the reason for the refund"),
    "refund_unknown": (
        "服务器无应答，退款结果未知：退款已保存，请稍后再点“退款”继续这笔退款（不会重复退款）。确认前请勿退钱给顾客",
        "No answer from the server: the refund's outcome is unknown. It is saved; press Refund again later to "
        "finish this same refund (it is never made twice). Do not pay the customer until it is confirmed",
    ),
    "printer_offline_refund": (
        "退款已成功，但退款凭证无法打印：{reason}。请检查打印机后按 F8 重打（不要再次退款）",
        "The refund succeeded but its slip could not be printed: {reason}. Check the printer and press F8 "
        "to reprint (do not refund again)",
    ),
    "refund_done": (
        "退款成功：{amount} 元（{method}），积分余额 {balance}",
        "Refunded {amount} yuan ({method}); points balance {balance}",
    ),
    "refund_replayed": (
        "这笔退款之前已经完成，没有重复退款",
        "This refund was already made; nothing was refunded again",
    ),
    "refund_pin_needed": (
        "退款金额超过 {limit} 元，需要主管输入授权密码",
        "Refunds above {limit} yuan need the supervisor PIN",
    ),
    "refundable": (
        "小票 {receipt_no}：实付 {paid} 元，已退 {refunded} 元，最多可退 {refundable} 元",
        "Receipt {receipt_no}: paid {paid}, refunded {refunded}, at most {refundable} yuan left to refund",
    ),
    "refund_confirm": (
        "输入退款金额（不填为全部可退金额）、原因和退款方式后再按 F7 确认退款",
        "Enter the amount (empty: all that is left), the reason and the method, then press F7 again to refund",
    ),
    "sales_rejected": (
        "服务器拒绝了 {count} 笔已收款交易，共 {amount} 元，请联系管理员处理：",
        "The server refused {count} paid sales, {amount} yuan in all; call the operator:",
    ),
    "rejected_line": (
        "小票 {receipt_no}  {amount} 元  {reason}",
        "Receipt {receipt_no}  {amount} yuan  {reason}",
    ),
    "no_rejected": ("没有被服务器拒绝的交易", "No sales refused by the server"),
    "reprinted": ("已重打：{receipt_no}", "Reprinted: {receipt_no}"),
}

# Server error codes the cashier sees in words rather than as a code.
SERVER_ERRORS: dict[str, tuple[str, str]] = {
    "member_not_found": ("找不到该会员", "Member not found"),
    "card_unknown": ("未知卡片，不是本联盟的会员卡", "Unknown card: not an alliance card"),
    "card_invalid": ("卡片数据校验失败", "The card's data failed its check"),
    "card_blocked": ("此卡已挂失、冻结或已换卡，不能使用", "This card is lost, frozen or replaced"),
    "card_stale": ("此卡疑似被复制，已冻结，请联系客服", "Suspected card clone: the card is frozen, call support"),
    "code_invalid": ("会员码无效", "Invalid member code"),
    "code_expired": ("会员码已过期，请会员刷新后再扫", "Member code expired: ask the member to refresh it"),
    "code_used": ("会员码已使用，请会员刷新后再扫", "Member code already used: ask for a fresh one"),
    "identification_expired": ("会员识别已过期，请重新识别", "The identification expired: identify again"),
    "insufficient_points": ("积分不足", "Not enough points"),
    "redeem_limit_exceeded": ("超过本店积分抵扣上限", "Above this shop's redemption limit"),
    "refund_exceeds_sale": ("退款金额超过可退金额", "Refund exceeds what is left of the sale"),
    # --- till-money ---
    "refund_authorisation_required": (
        "该退款金额需要主管授权，请输入主管密码",
        "This refund needs the supervisor PIN",
    ),
    "refund_pin_wrong": ("主管密码错误，未退款", "Wrong supervisor PIN; nothing was refunded"),
    "rate_limited": ("尝试次数过多，请稍后再试", "Too many attempts; try again later"),
    "receipt_no_taken": ("小票号已被其他交易使用", "The receipt number is already used by another sale"),
}


def reader_error_key(exc: Exception) -> str:
    """The message key for a card reader error (by its class in pos_client.devices.card_reader)."""
    return {
        "CardRemoved": "card_removed",
        "NoCardPresent": "no_card",
        "NoReaderFound": "reader_missing",
        "PcscUnavailable": "reader_service",
        "AuthenticationFailed": "not_alliance_card",
        "WrongCardType": "not_alliance_card",
        "CardCommandFailed": "card_read_failed",
    }.get(type(exc).__name__, "card_read_failed")


def text(key: str, lang: str = "zh", **values) -> str:
    """The message ``key`` in ``lang`` with ``values`` filled in."""
    zh, en = MESSAGES[key]
    return (en if lang == "en" else zh).format(**values)


def server_error_text(code: str, message: str, lang: str = "zh") -> str:
    """A server error in the cashier's words (the server's own message for codes without a translation)."""
    if code in SERVER_ERRORS:
        zh, en = SERVER_ERRORS[code]
        return en if lang == "en" else zh
    return text("server_refused", lang, message=message, code=code)


class PosError(Exception):
    """A failure the cashier must see; str() is the Chinese text, ``text(lang)`` either language."""

    def __init__(self, key: str, **values):
        self.key, self.values = key, values
        super().__init__(text(key, "zh", **values))

    def text(self, lang: str = "zh") -> str:
        """The message in ``lang``."""
        return text(self.key, lang, **self.values)


class ServerRefused(PosError):
    """The server refused a request; ``code`` is its stable error code."""

    def __init__(self, code: str, message: str):
        self.code, self.message = code, message
        Exception.__init__(self, server_error_text(code, message))
        self.key, self.values = "server_refused", {"code": code, "message": message}

    def text(self, lang: str = "zh") -> str:
        """The message in ``lang``."""
        return server_error_text(self.code, self.message, lang)
