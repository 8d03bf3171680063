"""`alliance-pos`: the terminal's command line (scripted checkout, refunds, shift close, sync, the window)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import click
from rich.console import Console

from alliance_shared.click_zh import click_language
from alliance_shared.devices.card_reader import CardReaderError
from pos_client.checkout import REDEEM_MAX, Checkout, SaleOutcome
from pos_client.config import DEFAULT_CONFIG_PATH, NotRegistered, PosConfig
from pos_client.devices.printer import PrinterError
from pos_client.devices.scanner import CameraScanner, ImageScanner, ScannerError
from pos_client.messages import PosError, ServerRefused, reader_error_key, server_error_text, text
from pos_client.money import AmountError, parse_amount, yuan
from pos_client.payments import DEFAULT as DEFAULT_PAYMENT
from pos_client.payments import METHODS, method_name
from pos_client.server_client import ApiError, ServerUnreachable
from pos_client.terminal import build_checkout, terminal_client

console = Console()
CAMERA_SCAN_SECONDS = 15  # how long --camera looks for a code
PAY_OPTION = click.option(
    "--pay",
    "payment_method",
    type=click.Choice(list(METHODS)),
    default=DEFAULT_PAYMENT,
    show_default=True,
    help="How the customer paid the rest: cash 现金, wechat 微信, alipay 支付宝, card 银行卡, other 其他.",
)


class Options:
    """The global options: which configuration, and device overrides for this run."""

    def __init__(self, config_path: Path, reader: str | None, printer: str | None, lang: str | None):
        self.config_path, self.reader, self.printer, self.lang = config_path, reader, printer, lang

    def config(self) -> PosConfig:
        """The saved configuration with this run's overrides."""
        try:
            config = PosConfig.load(self.config_path)
        except NotRegistered as exc:
            raise click.ClickException(exc.text(self.lang or "zh")) from exc
        if self.reader:
            config.reader = self.reader
        if self.printer:
            config.printer = self.printer
        if self.lang:
            config.lang = self.lang
        return config

    def language(self) -> str:
        """The language of this run's messages: --lang, else the configuration's, else Chinese."""
        return self.lang or _configured_language(self.config_path)

    def checkout(self, *, with_reader: bool = False) -> Checkout:
        """The checkout core for this terminal."""
        try:
            return build_checkout(self.config(), self.config_path, with_reader=with_reader)
        except CardReaderError as exc:
            raise click.ClickException(text(reader_error_key(exc), self.language())) from exc
        except PrinterError as exc:
            raise click.ClickException(exc.text(self.language())) from exc


def _configured_language(config_path: Path) -> str:
    try:
        return PosConfig.load(config_path).lang
    except Exception:  # no or unreadable configuration yet: the default language
        return "zh"


def _language_of(args: list[str]) -> str:
    """The language a command line asks for, read before click parses it (click's own errors come first)."""
    config_path = DEFAULT_CONFIG_PATH
    for index, arg in enumerate(args):
        name, _, value = arg.partition("=")
        if name in ("--lang", "--config") and not value and index + 1 < len(args):
            value = args[index + 1]
        if name == "--lang" and value in ("zh", "en"):
            return value
        if name == "--config" and value:
            config_path = Path(value)
    return _configured_language(config_path)


class PosCommandLine(click.Group):
    """The `alliance-pos` group: click's usage and error lines in the terminal's language (Chinese by default)."""

    def main(self, args=None, *rest, **options):
        with click_language(_language_of(list(sys.argv[1:] if args is None else args))):
            return super().main(args, *rest, **options)


@click.group(cls=PosCommandLine)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=DEFAULT_CONFIG_PATH,
    show_default=True,
    help="Configuration file (the outbox database lives beside it).",
)
@click.option("--reader", default=None, help="Card reader name (or part of it) for this run.")
@click.option("--printer", default=None, help="Printer for this run: network:HOST[:PORT], usb:VID:PID, file:PATH, ...")
@click.option(
    "--lang", type=click.Choice(["zh", "en"]), default=None, help="Messages and receipts: zh (default) or en."
)
@click.pass_context
def main(ctx, config_path, reader, printer, lang):
    """AllianceCard POS terminal."""
    ctx.obj = Options(config_path, reader, printer, lang)


def _fail(exc: Exception, lang: str = "zh") -> click.ClickException:
    message = exc.text(lang) if isinstance(exc, PosError) else str(exc)
    return click.ClickException(message)


def _whoami(config: PosConfig) -> dict:
    try:
        return terminal_client(config).whoami()
    except ServerUnreachable as exc:
        raise click.ClickException(text("server_unreachable", config.lang, reason=exc.reason)) from exc
    except ApiError as exc:
        raise click.ClickException(server_error_text(exc.code, exc.message, config.lang)) from exc


@main.command()
@click.option("--server", "server_url", required=True, help="Server base URL, e.g. http://127.0.0.1:5000")
@click.option("--token", required=True, help="The terminal token shown once when the terminal was created.")
@click.option("--printer", "printer_spec", default="dummy", show_default=True, help="Receipt printer spec.")
@click.option("--paper", "paper_mm", type=click.Choice(["58", "80"]), default="58", show_default=True)
@click.pass_obj
def register(options: Options, server_url, token, printer_spec, paper_mm):
    """Check the token with the server and save this terminal's configuration."""
    config = PosConfig(
        server_url=server_url,
        token=token,
        reader=options.reader,
        printer=options.printer or printer_spec,
        paper_mm=int(paper_mm),
        lang=options.lang or "zh",
    )
    info = _whoami(config)
    config.save(options.config_path)
    console.print(
        f"已登记 / registered: {info['merchant']['name']} · {info['terminal']['name']} → {options.config_path}"
    )


@main.command()
@click.pass_obj
def status(options: Options):
    """Show the server, terminal, merchant and the sales waiting in the outbox."""
    config = options.config()
    checkout = options.checkout()
    pending = checkout.outbox.pending_count()
    console.print(f"待上传 / waiting to upload: {pending} 笔")
    failed = checkout.outbox.rejected()
    if failed:
        console.print(f"[red]被服务器拒绝 / refused: {len(failed)} 笔[/red]")
    info = _whoami(config)
    limits = info["offline_limits"]
    console.print(f"服务器 / server: {config.server_url} (在线 / online, {info['server_time']})")
    console.print(f"商户 / merchant: {info['merchant']['name']} ({info['merchant']['address']})")
    console.print(f"终端 / terminal: {info['terminal']['name']} ({info['terminal']['id']})")
    console.print(f"联盟 / alliance: {info['alliance']['name']}, 1 积分 = {info['alliance']['point_value_fen']} 分")
    console.print(
        f"离线限额 / offline limits: ≤ {yuan(limits['max_sale_fen'])} 元/笔, "
        f"{limits['max_sales_per_shift']} 笔/班, {limits['max_age_hours']} h"
    )
    console.print(f"打印机 / printer: {config.printer}; 读卡器 / reader: {config.reader or '自动 / auto'}")


def _scanned_code(image: Path | None, camera: int | None, lang: str) -> str:
    """The member code or card number decoded from a picture or read from a camera."""
    try:
        if image is not None:
            found = ImageScanner().decode(image)
        else:
            scanner = CameraScanner(camera)
            try:
                found = scanner.read(timeout=CAMERA_SCAN_SECONDS)
            finally:
                scanner.close()
    except ScannerError as exc:
        raise click.ClickException(exc.text(lang)) from exc
    if found is None:
        raise click.ClickException(text("cli_no_code_found", lang))
    return found


def _amount(value: str, lang: str) -> int:
    try:
        return parse_amount(value)
    except AmountError as exc:
        raise click.BadParameter(exc.text(lang), param_hint="'--amount'") from exc


@main.command()
@click.option("--amount", required=True, help="Amount in yuan, e.g. 128.00")
@click.option("--card", "by_card", is_flag=True, help="Wait for a card on the reader.")
@click.option("--code", default=None, help="A scanned member code or printed card number.")
@click.option("--phone", default=None, help="The member's mobile number.")
@click.option(
    "--code-image",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A picture of the member's QR code or barcode (e.g. from a camera) to decode.",
)
@click.option("--camera", type=int, default=None, help="Scan the code with camera N (needs OpenCV).")
@click.option("--redeem", type=click.IntRange(min=1), default=None, help="Points to redeem.")
@click.option("--redeem-max", is_flag=True, help="Redeem as many points as allowed.")
@click.option(
    "--voucher", "voucher_code", default=None, help="A scanned or typed voucher code to redeem (online only)."
)
@click.option("--voucher-id", default=None, help="Redeem one of the member's vouchers by its id (see `identify`).")
@PAY_OPTION
@click.option(
    "--one-request/--identify-first",
    default=True,
    show_default=True,
    help="With --card and no points, online: send the card read with the sale (one request; see "
    "docs/terminal-api.md). --identify-first shows the member before the sale.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.pass_obj
def checkout(
    options: Options,
    amount,
    by_card,
    code,
    phone,
    code_image,
    camera,
    redeem,
    redeem_max,
    voucher_code,
    voucher_id,
    payment_method,
    one_request,
    as_json,
):
    """Sell to a member: identify, price, commit (outbox first), write the card back, print."""
    lang = options.language()
    amount_fen = _amount(amount, lang)
    if sum((by_card, bool(code), bool(phone), code_image is not None, camera is not None)) != 1:
        raise click.UsageError(text("cli_one_identification", lang))
    if code_image is not None or camera is not None:
        code = _scanned_code(code_image, camera, lang)
    if redeem and redeem_max:
        raise click.UsageError(text("cli_redeem_both", lang))
    if voucher_code and voucher_id:
        raise click.UsageError(text("cli_voucher_both", lang))
    redeem_choice = REDEEM_MAX if redeem_max else (redeem or 0)
    core = options.checkout(with_reader=by_card)
    lang = core.lang
    try:
        core.refresh()
        # a voucher is redeemed only after the member is identified (never in the one-request sale)
        one_request = one_request and not (voucher_code or voucher_id)
        if one_request and by_card and not redeem_choice and core.online is not False:
            # one request from tap to approval; the member is shown from the answer. A sale whose answer is
            # lost is sent again with its key; if never recorded and the card was tapped elsewhere since, the
            # server answers card_read_superseded (the card is not frozen) and the offline capture goes instead.
            if not as_json:
                console.print("请刷卡 / tap the card …")
            outcome = core.tap_and_pay(amount_fen, payment_method)
            member = core.member
        else:
            if by_card:
                if not as_json:
                    console.print("请刷卡 / tap the card …")
                member = core.identify_card()
            elif code:
                member = core.identify_code(code)
            else:
                member = core.identify_phone(phone)
            if not as_json:
                _show_vouchers(member.vouchers, lang)
            if voucher_id:
                core.choose_voucher(voucher_id)
            elif voucher_code:
                core.scan_voucher(voucher_code)
            if (redeem or redeem_max or voucher_id) and member.spend_needs_proof:
                _prove_member(core, lang)
            core.quote(amount_fen, redeem_choice)
            outcome = core.commit(amount_fen, redeem_choice, payment_method)
    except PosError as exc:
        raise _fail(exc, lang) from exc
    finally:
        if core.reader is not None:
            core.reader.close()
    printed, print_error = True, None
    try:
        core.print_receipt()
    except PosError as exc:
        printed, print_error = False, exc.text(lang)
    notice = text(member.notice, lang) if member.notice else None
    if as_json:
        click.echo(json.dumps(_outcome_json(outcome, member, printed, print_error, notice), ensure_ascii=False))
    else:
        _show_outcome(outcome, lang)
        for message in (notice, print_error):
            if message:
                console.print(f"[yellow]{message}[/yellow]")
    if print_error:
        raise SystemExit(3)


def _prove_member(core, lang: str) -> None:
    """Points after a phone number or typed card number: text the member a code and ask the cashier for it.

    A wrong code may be typed again (the server burns the code after too many tries); end input to give up.
    """
    masked_phone = core.request_proof_code()
    click.echo(text("proof_code_sent", lang, masked_phone=masked_phone), err=True)
    while True:
        code = click.prompt(text("proof_code_prompt", lang), err=True)
        try:
            core.confirm_proof(code)
        except ServerRefused as exc:
            if exc.code != "login_code_invalid":
                raise
            click.echo(exc.text(lang), err=True)
        else:
            click.echo(text("proof_confirmed", lang), err=True)
            return


def _outcome_json(outcome: SaleOutcome, member, printed: bool, print_error: str | None, notice: str | None) -> dict:
    receipt = outcome.receipt
    return {
        "status": outcome.status,
        "outbox_seq": outcome.seq,
        "pending": outcome.pending,
        "receipt_no": receipt.receipt_no,
        "amount_fen": receipt.amount_fen,
        "discount_fen": receipt.discount_fen,
        "redeem_points": receipt.redeem_points,
        "payable_fen": receipt.payable_fen,
        "points_earned": receipt.points_earned,
        "points_balance": receipt.points_balance,
        "payment_method": receipt.payment_method,
        "voucher_fen": receipt.voucher_fen,
        "voucher": {"name": receipt.voucher_name, "code_last4": receipt.voucher_last4}
        if receipt.voucher_name
        else None,
        "gift": asdict(receipt.gift) if receipt.gift else None,
        "sale": outcome.sale,
        "member": {"display_name": member.display_name, "level": member.level_name, "offline": member.offline},
        "card_update_written": member.card_written,
        "printed": printed,
        "print_error": print_error,
        "notice": notice,
    }


def _show_outcome(outcome: SaleOutcome, lang: str) -> None:
    receipt = outcome.receipt
    if outcome.status == "approved":
        console.print(f"[green]{text('sale_done', lang, receipt_no=receipt.receipt_no)}[/green]")
    elif outcome.status == "offline":
        console.print(f"[yellow]{text('sale_offline_done', lang, pending=outcome.pending)}[/yellow]")
    else:
        console.print(f"[yellow]{text('outcome_unknown', lang)}[/yellow]")
    voucher = f"券抵扣 {receipt.voucher_name} 尾号{receipt.voucher_last4} -{yuan(receipt.voucher_fen)}  "
    console.print(
        f"消费 {yuan(receipt.amount_fen)}  折扣 -{yuan(receipt.discount_fen)}  "
        + (voucher if receipt.voucher_name else "")
        + f"积分抵扣 {receipt.redeem_points}  实付 {yuan(receipt.payable_fen)}  本次积分 +{receipt.points_earned}",
        markup=False,
    )
    if receipt.gift is not None:
        console.print(text("gift_granted", lang, name=receipt.gift.name), markup=False)


def _show_vouchers(vouchers: list[dict], lang: str) -> None:
    """The identified member's vouchers usable here: id, name, the code's last four, expiry."""
    if not vouchers:
        console.print(text("voucher_none", lang), markup=False)
        return
    for voucher in vouchers:
        until = f"  至 {voucher['expires_on']}" if voucher.get("expires_on") else ""
        console.print(f"券 {voucher['id']}  {voucher['name']}  尾号{voucher['code_last4']}{until}", markup=False)


@main.command()
@click.option("--card", "by_card", is_flag=True, help="Wait for a card on the reader.")
@click.option("--code", default=None, help="A scanned member code or printed card number.")
@click.option("--phone", default=None, help="The member's mobile number.")
@click.option("--json", "as_json", is_flag=True, help="Print the member and their vouchers as JSON.")
@click.pass_obj
def identify(options: Options, by_card, code, phone, as_json):
    """Show a member (level, discount, points) and the vouchers they can use at this shop."""
    lang = options.language()
    if sum((by_card, bool(code), bool(phone))) != 1:
        raise click.UsageError(text("cli_one_identification", lang))
    core = options.checkout(with_reader=by_card)
    lang = core.lang
    try:
        core.refresh()
        if by_card:
            member = core.identify_card()
        elif code:
            member = core.identify_code(code)
        else:
            member = core.identify_phone(phone)
    except PosError as exc:
        raise _fail(exc, lang) from exc
    finally:
        if core.reader is not None:
            core.reader.close()
    if as_json:
        data = {
            "display_name": member.display_name,
            "level": member.level_name,
            "discount_bp": member.discount_bp,
            "points_balance": member.points_balance,
            "offline": member.offline,
            "vouchers": member.vouchers,
        }
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    points = "?" if member.points_balance is None else member.points_balance
    console.print(f"{member.display_name}  {member.masked_phone}  {member.level_name}  积分 {points}", markup=False)
    _show_vouchers(member.vouchers, lang)


@main.command()
@click.argument("receipt_no")
@click.option("--amount", default=None, help="Amount to refund in yuan (default: all that is left).")
@click.option("--reason", default=None, help="Why the sale is refunded (asked for when not given).")
@PAY_OPTION
@click.option("--pin", "supervisor_pin", default=None, help="Supervisor PIN (asked for when the merchant wants one).")
@click.option("--show", is_flag=True, help="Only show the sale and the most that can still be refunded.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.pass_obj
def refund(options: Options, receipt_no, amount, reason, payment_method, supervisor_pin, show, as_json):
    """Refund a sale by its receipt number, whole or in part, and print the refund slip.

    Trying the same refund again (after a timeout, a crash or a printer error) continues the first one:
    nothing is refunded twice. Exit code 3: refunded, but the slip did not print (reprint it).
    """
    from pos_client.refunds import find_sale, needs_authorisation, refund_by_receipt

    amount_fen = _amount(amount, options.language()) if amount is not None else None
    core = options.checkout()
    lang = core.lang
    try:
        core.refresh()
        open_refund = core.outbox.open_refund(receipt_no.strip())
        if open_refund is None:
            sale = find_sale(core, receipt_no)
            console.print(_refundable_line(sale, lang), markup=False)
            if show:
                return
            wanted = sale["refundable_fen"] if amount_fen is None else amount_fen
            if supervisor_pin is None and needs_authorisation(core, wanted):
                limit = yuan(core.info["refunds"]["authorisation_above_fen"])
                console.print(f"[yellow]{text('refund_pin_needed', lang, limit=limit)}[/yellow]")
                supervisor_pin = click.prompt("主管密码 / supervisor PIN", hide_input=True)
            if reason is None:
                reason = click.prompt("退款原因 / reason")
        elif show:
            console.print(text("refund_replayed", lang), markup=False)
            return
        outcome = refund_by_receipt(
            core,
            receipt_no,
            amount_fen,
            reason=reason or (open_refund.body.get("reason", "") if open_refund else ""),
            payment_method=payment_method,
            supervisor_pin=supervisor_pin,
        )
    except PosError as exc:
        raise _fail(exc, lang) from exc
    result = outcome.refund
    print_error = outcome.print_error.text(lang) if outcome.print_error else None
    if as_json:
        data = {**result, "printed": print_error is None, "print_error": print_error, "replayed": outcome.replayed}
        click.echo(json.dumps(data, ensure_ascii=False))
    else:
        done = text(
            "refund_done",
            lang,
            amount=yuan(result["amount_fen"]),
            method=method_name(result.get("payment_method", DEFAULT_PAYMENT), lang),
            balance=result["points_balance"],
        )
        console.print(
            f"[green]{done}[/green]  扣回积分 {result['points_reversed']}  退回积分 {result['points_restored']}"
        )
        restored = outcome.receipt.refund.voucher_restored if outcome.receipt.refund else None
        if restored is not None:
            console.print(text("voucher_restored_yes" if restored else "voucher_restored_no", lang), markup=False)
        if outcome.replayed:
            console.print(f"[yellow]{text('refund_replayed', lang)}[/yellow]")
        if print_error:
            console.print(f"[red]{print_error}[/red]")
    if print_error:
        raise SystemExit(3)


def _refundable_line(sale: dict, lang: str) -> str:
    return text(
        "refundable",
        lang,
        receipt_no=sale["receipt_no"],
        paid=yuan(sale["payable_fen"]),
        refunded=yuan(sale["refunded_fen"]),
        refundable=yuan(sale["refundable_fen"]),
    )


@main.command()
@click.argument("receipt_no", required=False)
@click.pass_obj
def reprint(options: Options, receipt_no):
    """Print the last receipt again, or the last slip of RECEIPT_NO (its sale or latest refund), marked 重打."""
    core = options.checkout()
    try:
        receipt = core.reprint(receipt_no)
    except PosError as exc:
        raise _fail(exc, core.lang) from exc
    console.print(f"{text('reprinted', core.lang, receipt_no=receipt.receipt_no)} {yuan(receipt.payable_fen)}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@click.pass_obj
def rejected(options: Options, as_json):
    """List the sales the server refused after the customer paid (kept here and reported to the server)."""
    from pos_client.sync import rejected_lines, rejected_report

    core = options.checkout()
    sales = core.outbox.rejected()
    if as_json:
        rows = [{**rejected_report(sale), "seq": sale.seq, "reported": sale.reported_at is not None} for sale in sales]
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    if not sales:
        console.print(text("no_rejected", core.lang))
        return
    for line in rejected_lines(sales, core.lang):
        console.print(line, style="red", markup=False)


@main.group()
def shift():
    """Shift (班次) commands."""


@shift.command("close")
@click.option("--json", "as_json", is_flag=True, help="Print the totals as JSON.")
@click.pass_obj
def shift_close(options: Options, as_json):
    """Upload what waits, print the shift report (交班单) and start the next shift."""
    from pos_client.shift_report import close_shift

    core = options.checkout()
    try:
        closed = close_shift(core)
    except PosError as exc:
        raise _fail(exc, core.lang) from exc
    totals = closed.totals
    if as_json:
        data = asdict(totals)
        data["opened_at"], data["closed_at"] = totals.opened_at.isoformat(), totals.closed_at.isoformat()
        click.echo(json.dumps(data, ensure_ascii=False))
    else:
        for line in closed.lines:
            console.print(line, markup=False)


@main.command()
@click.pass_obj
def sync(options: Options):
    """Send the sales waiting in the outbox, oldest first, with their original keys."""
    core = options.checkout()
    result = core.sync()
    console.print(
        f"已上传 / sent: {len(result.sent)}  被拒 / refused: {len(result.failed)}  待上传 / waiting: {result.remaining}"
    )
    if result.rejected:
        from pos_client.sync import rejected_lines

        for line in rejected_lines(result.rejected, core.lang):
            console.print(line, style="red", markup=False)
    if result.unreachable:
        raise click.ClickException(text("server_unreachable", core.lang, reason=result.unreachable))


@main.command()
@click.pass_obj
def gui(options: Options):
    """Open the cashier window."""
    from pos_client.gui.app import run

    run(options.config(), options.config_path)


@main.command("bind-card")
@click.argument("card_no")
@click.option("--phone", required=True, help="The mobile number of the member who gets the card.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.pass_obj
def bind_card(options: Options, card_no, phone, as_json):
    """Hand out a new card (printed, or an encoded chip card) to a member: SMS code, bind, print a slip."""
    from pos_client.card_binding import bind_card as bind
    from pos_client.card_binding import card_number

    lang = options.language()
    try:
        card_number(card_no)  # a mistyped number is refused before the member is texted a code
    except PosError as exc:
        raise click.UsageError(exc.text(lang)) from exc
    core = options.checkout()
    lang = core.lang
    try:
        core.refresh()
        core.identify_phone(phone)
        _prove_member(core, lang)  # a phone number is no proof: the member reads out the code texted to them
        outcome = bind(core, card_no)
    except PosError as exc:
        raise _fail(exc, lang) from exc
    print_error = outcome.print_error.text(lang) if outcome.print_error else None
    if as_json:
        data = {**outcome.binding, "printed": print_error is None, "print_error": print_error}
        click.echo(json.dumps(data, ensure_ascii=False))
    else:
        console.print(outcome.summary(lang), markup=False)
        if print_error:
            console.print(f"[yellow]{print_error}[/yellow]")
    if print_error:
        raise SystemExit(3)


if __name__ == "__main__":
    main()
