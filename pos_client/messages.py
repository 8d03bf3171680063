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
    # --- till-ui ---
    "quote_stale": (
        "金额或积分抵扣已改动，显示的应付金额已作废：请重新计算后再收款",
        "The amount or the redemption changed after pricing: price the sale again before charging",
    ),
    "amount_missing": ("请输入金额，例如 128.00", "Enter an amount such as 128.00"),
    "amount_format": (
        "金额格式不对：{text}（只能输入数字和小数点，例如 128.00）",
        "Not an amount: {text} (digits and one decimal point only, e.g. 128.00)",
    ),
    "amount_comma": (
        "金额不能含逗号：{text}。请用小数点表示角分（例如 12.50），不要用千位分隔符",
        "An amount may not contain a comma: {text}. Use a decimal point (12.50) and no thousands separators",
    ),
    "amount_sign": ("金额不能带正负号：{text}", "An amount may not carry a sign: {text}"),
    "amount_space": ("金额中间不能有空格：{text}", "An amount may not contain spaces: {text}"),
    "amount_dots": ("金额只能有一个小数点：{text}", "An amount has at most one decimal point: {text}"),
    "amount_decimals": (
        "金额最多两位小数（角、分）：{text}",
        "An amount has at most two decimals (jiao and fen): {text}",
    ),
    "amount_not_positive": ("金额必须大于 0", "The amount must be more than 0"),
    "amount_too_large": ("金额过大（单笔最多 {limit} 元），请核对", "The amount is too large (at most {limit} yuan)"),
    "printer_error": (
        "小票打印机出错，请检查打印机后重打",
        "The receipt printer reported an error. Check the printer, then print the receipt again",
    ),
    "printer_unreachable": (
        "小票打印机（{where}）连接不上，请检查打印机是否开机、联网或插好连线，然后重打",
        "The receipt printer at {where} is not reachable. Check that it is switched on and connected, "
        "then print the receipt again",
    ),
    "printer_stalled": (
        "小票打印机（{where}）不接收数据（缺纸或纸仓盖未合上？），请检查打印机后重打",
        "The receipt printer at {where} stopped accepting data (out of paper or cover open?). "
        "Check the printer, then print the receipt again",
    ),
    "printer_reported": (
        "小票打印机（{where}）报错：{detail}",
        "The receipt printer at {where} reported an error: {detail}",
    ),
    "printer_library_missing": (
        "本机未安装打印机程序库 {package}，请联系管理员安装（pip install {package}）",
        "The printer library {package} is not installed on this terminal; ask the operator to install it "
        "(pip install {package})",
    ),
    "printer_spec_invalid": (
        "打印机设置“{spec}”无法识别。可用的写法：network:HOST[:PORT]、usb:VID:PID（十六进制，例如 "
        "usb:0416:5011）、serial:DEVICE[@BAUD]、file:PATH 或 dummy",
        "The printer setting '{spec}' is not understood. Use network:HOST[:PORT], usb:VID:PID (hex, e.g. "
        "usb:0416:5011), serial:DEVICE[@BAUD], file:PATH or dummy",
    ),
    "scanner_error": ("扫码出错，请重新扫码", "The code scanner reported an error. Please scan again"),
    "scanner_library_missing": (
        "本机未安装扫码程序库 {what}，请手工输入会员码，或联系管理员安装（pip install {package}）",
        "The code decoder {what} is not installed on this terminal; enter the code by hand, or ask the operator "
        "to install it (pip install {package})",
    ),
    "scanner_image_unreadable": (
        "图片 {path} 无法打开（{reason}），请重新拍摄",
        "The picture {path} could not be opened ({reason}); take it again",
    ),
    "scanner_camera_closed": (
        "摄像头 {camera} 无法打开，请检查连线后再试",
        "Camera {camera} could not be opened; check its cable, then try again",
    ),
    "not_registered": (
        "本机尚未登记为收银终端：请先运行 alliance-pos register（找不到 {path}）",
        "Not registered yet: run `alliance-pos register` ({path} missing)",
    ),
    "cli_one_identification": (
        "请只给出 --card、--code、--phone、--code-image、--camera 中的一个",
        "Give exactly one of --card, --code, --phone, --code-image, --camera",
    ),
    "cli_redeem_both": ("--redeem 和 --redeem-max 只能选一个", "Give --redeem or --redeem-max, not both"),
    "cli_no_code_found": ("没有识别到二维码或条码", "No QR code or barcode found"),
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

# Every stable error code the server can answer with, in the cashier's words: the POS never depends on the
# server's own (possibly English) message, which is shown only for a code this table does not know yet.
# tests/pos/test_messages.py collects the codes from the server's source and fails when one is missing here.
SERVER_ERRORS: dict[str, tuple[str, str]] = {
    "member_not_found": ("找不到该会员", "Member not found"),
    "card_unknown": ("未知卡片，不是本联盟的会员卡", "Unknown card: not an alliance card"),
    "card_invalid": ("卡片数据校验失败", "The card's data failed its check"),
    "card_blocked": ("此卡已挂失、冻结或已换卡，不能使用", "This card is lost, frozen or replaced"),
    "card_stale": ("此卡疑似被复制，已冻结，请联系客服", "Suspected card clone: the card is frozen, call support"),
    "card_read_superseded": (
        "此卡读数已过时（卡已在别处使用），请重新刷卡",
        "This card read is out of date (the card was used elsewhere since): tap it again",
    ),
    "code_invalid": ("会员码无效", "Invalid member code"),
    "code_expired": ("会员码已过期，请会员刷新后再扫", "Member code expired: ask the member to refresh it"),
    "code_used": ("会员码已使用，请会员刷新后再扫", "Member code already used: ask for a fresh one"),
    "identification_expired": ("会员识别已过期，请重新识别", "The identification expired: identify again"),
    "insufficient_points": ("积分不足", "Not enough points"),
    "insufficient_funds": ("账户资金不足", "Not enough money on the account"),
    "redeem_limit_exceeded": ("超过本店积分抵扣上限", "Above this shop's redemption limit"),
    "refund_exceeds_sale": ("退款金额超过可退金额", "Refund exceeds what is left of the sale"),
    # --- till-ui ---
    "invalid_request": ("请求内容不正确，请核对后重试", "The request is not valid; check it and try again"),
    "unauthorized": (
        "本终端未获授权（终端令牌无效或已停用），请联系管理员重新登记终端",
        "This terminal is not authorised (token invalid or revoked); ask the operator to register it again",
    ),
    "forbidden": ("本终端无权执行此操作", "This terminal may not do this"),
    "not_found": ("找不到要操作的记录", "No such record"),
    "conflict": ("当前状态不允许此操作", "Not possible in the current state"),
    "method_not_allowed": ("服务器不支持此操作（请升级收银软件）", "The server does not support this (update the POS)"),
    "payload_too_large": ("发送的数据过大", "The request is too large"),
    "uri_too_long": ("请求地址过长", "The request address is too long"),
    "headers_too_large": ("请求头过大", "The request headers are too large"),
    "rate_limited": ("操作过于频繁，请稍后再试", "Too many requests; try again shortly"),
    "internal_error": ("服务器内部错误，请稍后再试或联系管理员", "Server error; try again later or call the operator"),
    "error": ("服务器出错，请稍后再试", "The server reported an error; try again later"),
    "login_code_invalid": ("验证码错误或已过期", "The verification code is wrong or has expired"),
    "card_check_failed": ("卡号与校验码不符", "The card number and check code do not match"),
    "idempotency_key_required": (
        "请求缺少幂等键（请升级收银软件）",
        "The request has no Idempotency-Key (update the POS)",
    ),
    "idempotency_key_reused": (
        "同一交易编号已用于另一笔不同的请求，请联系管理员",
        "This operation's key was already used for a different request; call the operator",
    ),
    "request_in_progress": ("同一笔交易正在处理中，请稍候再查看结果", "The same operation is still in progress; wait"),
    "sign_in_failed": ("账号或密码错误", "Wrong account or password"),
    "account_locked": ("账号已锁定，请联系管理员", "The account is locked; call the operator"),
    "csrf_failed": ("页面已过期，请刷新后重试", "The page expired; reload it"),
    # --- till-money ---
    "refund_authorisation_required": (
        "该退款金额需要主管授权，请输入主管密码",
        "This refund needs the supervisor PIN",
    ),
    "refund_pin_wrong": ("主管密码错误，未退款", "Wrong supervisor PIN; nothing was refunded"),
    "receipt_no_taken": ("小票号已被其他交易使用", "The receipt number is already used by another sale"),
}


def reader_error_key(exc: Exception) -> str:
    """The message key for a card reader error (by its class in alliance_shared.devices.card_reader)."""
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
    """The message ``key`` in ``lang`` with ``values`` filled in (a PosError value in the same language)."""
    zh, en = MESSAGES[key]
    shown = {name: value.text(lang) if isinstance(value, PosError) else value for name, value in values.items()}
    return (en if lang == "en" else zh).format(**shown)


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


# --- member-proof: spending points needs the member's proof (a code texted to the member) ---
MESSAGES.update(
    {
        "proof_needed": (
            "凭手机号或手输卡号识别的会员使用积分或选用会员的券须本人验证：请刷卡、扫会员码、扫券码，或发送短信验证码",
            "Spending points or picking the member's voucher after a phone number or typed card number needs the "
            "member's proof: tap the card, scan the member code or the voucher's code, or send an SMS code",
        ),
        "proof_code_sent": (
            "验证码已发送到 {masked_phone}，请会员告诉您验证码",
            "A code was sent to {masked_phone}; ask the member for it",
        ),
        "proof_code_prompt": ("短信验证码", "SMS code"),
        "proof_confirmed": ("会员已验证，可以使用积分", "Member verified: points can be spent"),
    }
)
SERVER_ERRORS.update(
    {
        "member_proof_required": (
            "使用积分须会员本人验证（刷卡、会员码或短信验证码）",
            "Spending points needs the member's proof (card, member code or SMS code)",
        ),
        "login_code_invalid": ("验证码错误或已过期", "The code is wrong or has expired"),
        "rate_limited": ("操作过于频繁，请稍后再试", "Too many requests; try again later"),
    }
)


# --- till-bind: handing out a card at the till (alliance-pos bind-card, F11 in the window) ---
MESSAGES.update(
    {
        "bind_card_no_invalid": (
            "卡号有误：{card_no}（应为 16 位数字，请核对卡背面的卡号）",
            "Not a card number: {card_no} (16 digits; check the number on the back of the card)",
        ),
        "bind_how": (
            "绑卡：先按 F3 用手机号识别会员，再把新卡卡号输入或扫入号码栏，按 F11",
            "To hand out a card: identify the member by phone (F3), type or scan the new card's number, press F11",
        ),
        "bind_scan_card": (
            "请扫描新卡的条码或二维码（或输入卡号后按 Enter），将绑定给当前会员",
            "Scan the new card's barcode or QR code (or type its number and Enter) to bind it to this member",
        ),
        "bind_needs_server": ("绑卡需要联网，请稍后再试", "Binding a card needs the server; try again later"),
        "bind_done": (
            "绑卡成功：卡号 {card_no}，会员 {name}（{phone}），等级 {level}",
            "Card bound: {card_no} to {name} ({phone}), level {level}",
        ),
        "bind_slip_title": ("会员卡绑定凭证", "Card binding slip"),
        "bind_slip_card": ("卡号：{card_no}", "Card: {card_no}"),
        "bind_slip_member": ("会员：{name}  {phone}", "Member: {name}  {phone}"),
        "bind_slip_level": ("等级：{level}", "Level: {level}"),
        "bind_slip_time": ("时间：{when}", "Time: {when}"),
        "bind_slip_shop": ("门店：{shop}", "Shop: {shop}"),
        "printer_offline_bind": (
            "绑卡已成功，但凭证无法打印：{reason}。请检查打印机（不要再次绑卡）",
            "The card is bound but its slip could not be printed: {reason}. Check the printer (do not bind again)",
        ),
    }
)
SERVER_ERRORS.update(
    {
        "binding_proof_required": (
            "绑卡须会员本人验证：请发送短信验证码给会员",
            "Binding a card needs the member's proof: send the member an SMS code",
        ),
        "card_not_issued": (
            "此卡尚未写卡发行，不能发放",
            "This card's chip is not encoded yet: it cannot be handed out",
        ),
        "card_already_bound": ("此卡已绑定会员，不能再次绑定", "This card is already bound to a member"),
    }
)

# Codes of operator pages and endpoints (agents, staff sign-in) and the frozen member: a terminal meets only
# member_frozen, but every code the server can answer has the POS's own words.
SERVER_ERRORS.update(
    {
        "member_frozen": (
            "该会员账户已冻结，请会员联系联盟客服",
            "This member's account is frozen: ask them to call support",
        ),
        "agent_chain_cycle": ("代理上下级不能成环", "An agent chain cannot go round in a circle"),
        "agent_chain_too_deep": ("代理层级超过联盟允许的深度", "The agent chain would be deeper than allowed"),
        "agent_rule_not_allowed": (
            "代理等级不能以收费、购买或拉人头为条件",
            "Agent levels may not depend on fees, purchases or recruiting people",
        ),
        "withdrawal_refused": ("不允许此提现", "This withdrawal is not allowed"),
        "agent_self_upper": ("代理不能是自己的上级", "An agent cannot be its own upper agent"),
        "territory_taken": ("该区域已由其他代理独家或已代理", "Another agent holds this region"),
        "benefit_out_of_stock": ("该权益库存不足", "Not enough codes of this benefit are in stock"),
        "benefit_code_invalid": ("此券码不可用", "This code cannot be used"),
        "benefit_stock_conflict": ("券码状态已变化，请重试", "The codes changed meanwhile: please try again"),
        "benefit_budget_exhausted": ("该活动的权益已发完", "This campaign has given out all it had"),
        "benefit_not_eligible": ("该会员不能领取此权益", "This member may not receive this benefit"),
        "partner_signature_invalid": ("合作方请求签名无效", "The partner request's signature is not valid"),
        "benefit_limit_reached": ("领取或使用权益过于频繁，请稍后再试", "Too many benefits claimed or used: try later"),
        "benefit_second_factor_required": ("该权益需短信验证码", "This benefit needs the SMS code"),
        "second_factor_required": ("需要输入动态验证码", "The second-factor code is needed"),
        "second_factor_wrong": ("动态验证码不正确", "The second-factor code is wrong"),
    }
)


# --- till-vouchers: alliance vouchers redeemed at the till, inside the sale (never offline) ---
SERVER_ERRORS.update(
    {
        "voucher_invalid": (
            "该券不可用（券码无效、已使用、已过期、不属于该会员或本店不适用）",
            "This voucher cannot be used here (unknown, used, expired, another member's, or not accepted here)",
        ),
        "voucher_min_spend": (
            "未达到该券的最低消费（按会员折后金额计算）",
            "The bill after the member's discount does not reach the voucher's minimum spend",
        ),
        "voucher_offline": ("离线时不能使用券，请联网后再用", "Vouchers cannot be used offline; use it once online"),
    }
)
# --- ops-observability: the readiness probe's refusal (a till meets it only through a misrouted request) ---
SERVER_ERRORS.update({"not_ready": ("服务器暂未就绪，请稍后再试", "The server is not ready yet; try again shortly")})


# --- pos-vouchers: the cashier's words for vouchers at the till (window and CLI) ---
MESSAGES.update(
    {
        "voucher_not_offline": (
            "券不能离线核销：请移除券后继续离线收银",
            "Vouchers cannot be redeemed offline: remove the voucher to continue offline",
        ),
        "voucher_offline_unreachable": (
            "服务器无法连接，券不能离线核销：请重试（F5，仍是同一笔交易，不会重复核销），或移除券后继续收银",
            "Server unreachable, and vouchers cannot be redeemed offline: try again (F5: the same sale, never "
            "redeemed twice), or remove the voucher and continue",
        ),
        "voucher_not_listed": ("该会员没有这张券", "This member holds no such voucher"),
        "voucher_code_mistyped": (
            "券码有误，请核对后重新扫描或输入（16 位字母数字，可含短横线）",
            "Not a voucher code: scan or type it again (16 letters and digits, dashes allowed)",
        ),
        "voucher_min_spend_amount": (
            "未达到该券的最低消费：会员折后满 {minimum} 元可用",
            "The voucher needs a bill of at least {minimum} yuan after the member's discount",
        ),
        "voucher_chosen": ("已选用券：{name}", "Voucher chosen: {name}"),
        "voucher_scanned": ("已扫入券码 {masked}，报价后显示抵扣", "Voucher code {masked} scanned: priced next"),
        "voucher_removed": ("已移除券", "Voucher removed"),
        "voucher_none": ("该会员在本店没有可用的券", "The member holds no voucher usable here"),
        "voucher_restored_yes": ("优惠券已退回会员", "The voucher was given back to the member"),
        "voucher_restored_no": (
            "优惠券未退回（已过期或按规则不退）",
            "The voucher was not given back (expired, or not returned by its rule)",
        ),
        "cli_voucher_both": ("--voucher 与 --voucher-id 只能选一个", "Use --voucher or --voucher-id, not both"),
        "cli_voucher_needs_member": (
            "用券须先识别会员（--card --identify-first、--code 或 --phone）",
            "A voucher needs the member identified first (--card --identify-first, --code or --phone)",
        ),
        "gift_granted": ("本单赠券：{name}（已打印在小票上）", "Gift voucher: {name} (printed on the receipt)"),
    }
)
