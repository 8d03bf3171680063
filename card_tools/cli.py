"""`alliance-cards`: batch card issuance, encoding, verification and the card lifecycle for operators.

Exit codes: 0 done; 1 the server refused, or a card failed; 2 wrong usage; 3 the server cannot be
reached; 4 card reader problem; 5 the token was refused or the role may not do this.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from alliance_shared.devices.card_reader import CardReader, CardReaderError, CardRemoved, NoCardPresent, WrongCardType
from alliance_shared.devices.pcsc_reader import PcscCardReader
from alliance_shared.print_files import PrintCard, PrintFileError, write_csv, write_pdf
from card_tools.client import ApiError, ServerUnreachable, StaffClient
from card_tools.encoder import (
    BatchEncoder,
    CardSecrets,
    CardState,
    Chip,
    EncodeError,
    format_card,
    inspect,
    is_blank,
    keys_from_json,
    wait_for_removal,
)

EXIT_REFUSED, EXIT_UNREACHABLE, EXIT_READER, EXIT_AUTH = 1, 3, 4, 5
DEFAULT_SERVER = "http://127.0.0.1:5000"
CARD_POLL_SECONDS = 1.0

STATUS_LABELS = {
    "created": "待写卡 (created)",
    "encoding": "写卡未完成 (encoding)",
    "issued": "已发卡 (issued)",
    "active": "已激活 (active)",
    "lost": "已挂失 (lost)",
    "frozen": "已冻结 (frozen)",
    "replaced": "已补卡作废 (replaced)",
    "cancelled": "已注销 (cancelled)",
}
BATCH_STATES = {"created": "写卡中 (in progress)", "encoded": "已全部写卡 (encoded)"}
ACTION_DONE = {
    "lost": "已挂失 (reported lost)",
    "freeze": "已冻结 (frozen)",
    "unfreeze": "已解冻 (unfrozen)",
    "cancel": "已注销 (cancelled)",
}


PIPE_WIDTH = 200  # rich assumes 80 columns when output goes to a file or pipe: too narrow for the tables


def _out() -> Console:
    return Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else PIPE_WIDTH)


def _err() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def status_label(status: str) -> str:
    """A card status for people: Chinese with the English code."""
    return STATUS_LABELS.get(status, status)


def describe_api_error(exc: ApiError) -> str:
    """One line telling the operator what the server refused and why."""
    details = ", ".join(f"{key}={value}" for key, value in sorted(exc.details.items()))
    text = f"服务器拒绝 (the server refused) [{exc.code}] {exc.message}"
    if details:
        text += f" ({details})"
    if exc.code == "unauthorized":
        text += " — 请检查个人令牌 (check --token / ALLIANCE_TOKEN: a valid staff personal token pt_...)"
    elif exc.code == "forbidden":
        text += " — 此账号的角色无此权限 (your role may not do this: ask for card_issuer or admin)"
    return text


class CardsGroup(click.Group):
    """The command group that turns the tool's errors into a clear message and an exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ServerUnreachable as exc:
            _err().print(
                f"无法连接服务器 (cannot reach the server) {escape(exc.base_url)}: {escape(exc.reason)} — "
                "请检查 --server / ALLIANCE_SERVER 和网络 (check the address and the network)."
            )
            raise click.exceptions.Exit(EXIT_UNREACHABLE) from None
        except ApiError as exc:
            _err().print(escape(describe_api_error(exc)))
            code = EXIT_AUTH if exc.status in (401, 403) else EXIT_REFUSED
            raise click.exceptions.Exit(code) from None
        except CardReaderError as exc:
            _err().print(f"读卡器 (card reader): {escape(str(exc))}")
            raise click.exceptions.Exit(EXIT_READER) from None
        except (EncodeError, PrintFileError) as exc:
            _err().print(escape(str(exc)))
            raise click.exceptions.Exit(EXIT_REFUSED) from None


@dataclass
class Settings:
    """The server and token every command uses."""

    server: str
    token: str | None
    _client: StaffClient | None = field(default=None, repr=False)

    def client(self) -> StaffClient:
        """The staff API client (a usage error without a token)."""
        if not self.token:
            raise click.UsageError(
                "缺少个人令牌 (no token): 用 --token 或环境变量 ALLIANCE_TOKEN 提供 "
                "(give a staff personal token pt_...)."
            )
        if self._client is None:
            self._client = StaffClient(self.server, self.token)
        return self._client


pass_settings = click.make_pass_decorator(Settings)
reader_option = click.option(
    "--reader",
    "reader_name",
    envvar="ALLIANCE_READER",
    default=None,
    help="PC/SC reader name, or part of it / a regex (default: the first reader). Env: ALLIANCE_READER.",
)


@click.group(cls=CardsGroup)
@click.option(
    "--server",
    envvar="ALLIANCE_SERVER",
    default=DEFAULT_SERVER,
    show_default=True,
    help="Server base URL. Env: ALLIANCE_SERVER.",
)
@click.option(
    "--token",
    envvar="ALLIANCE_TOKEN",
    default=None,
    help="Staff personal token (pt_...), role card_issuer or admin. Env: ALLIANCE_TOKEN.",
)
@click.pass_context
def main(ctx: click.Context, server: str, token: str | None):
    """联盟卡发卡工具 (AllianceCard card tools): batches, encoding, verification, lifecycle."""
    ctx.obj = Settings(server, token)


def _print_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True))


# --- batches -------------------------------------------------------------------------------------


@main.group()
def batch():
    """卡批次 (card batches): create, list, show, export print files."""


@batch.command("create")
@click.option("--count", type=click.IntRange(min=1), required=True, help="Number of cards.")
@click.option("--type", "card_type", default="mifare-classic-1k", show_default=True, help="Card type.")
@click.option(
    "--kind",
    type=click.Choice(["chip", "printed"]),
    default="chip",
    show_default=True,
    help="chip: cards to encode; printed: cards without a chip, ready to bind at once.",
)
@click.option("--level", default=None, help="Level code the cards lift their member to (e.g. gold).")
@click.option("--name", default="", help="Batch name (default: its number range).")
@click.option(
    "--detail",
    "details",
    multiple=True,
    metavar="KEY=VALUE",
    help="Print detail for the factory (repeatable), e.g. --detail design=gold-2026.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the batch as JSON.")
@pass_settings
def batch_create(settings: Settings, count, card_type, kind, level, name, details, as_json):
    """新建卡批次 (create a batch of cards with consecutive numbers)."""
    print_details = {}
    for item in details:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--detail")
        print_details[key] = value
    created = settings.client().create_batch(count, card_type, level, name, print_details, kind=kind)
    if as_json:
        _print_json(created)
        return
    _out().print(
        f"已创建批次 (batch created) {created['id']}: {created['count']} 张卡 (cards) "
        f"{created['first_card_no']} – {created['last_card_no']}"
    )


@batch.command("list")
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--page-size", type=click.IntRange(min=1, max=100), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the batches as JSON.")
@pass_settings
def batch_list(settings: Settings, page, page_size, as_json):
    """列出卡批次 (list batches, newest first)."""
    batches = settings.client().list_batches(page, page_size)
    if as_json:
        _print_json(batches)
        return
    if not batches:
        _out().print("没有卡批次 (no batches yet).")
        return
    table = Table("批次 (batch)", "名称 (name)", "数量 (count)", "卡号 (numbers)", "状态 (state)", "创建 (created)")
    for item in batches:
        table.add_row(
            item["id"],
            escape(item["name"]),
            str(item["count"]),
            f"{item['first_card_no']} – {item['last_card_no']}",
            BATCH_STATES.get(item["state"], item["state"]),
            item["created_at"][:19].replace("T", " "),
        )
    _out().print(table)


@batch.command("show")
@click.argument("batch_id")
@click.option("--json", "as_json", is_flag=True, help="Print the batch as JSON.")
@pass_settings
def batch_show(settings: Settings, batch_id, as_json):
    """显示批次与写卡进度 (show a batch and its encoding progress)."""
    found = settings.client().batch(batch_id)
    if as_json:
        _print_json(found)
        return
    out = _out()
    out.print(f"批次 (batch) {found['id']}  {escape(found['name'])}")
    out.print(f"  卡号 (numbers): {found['first_card_no']} – {found['last_card_no']} ({found['count']})")
    out.print(f"  状态 (state): {BATCH_STATES.get(found['state'], found['state'])}")
    for status, count in sorted(found["progress"].items()):
        out.print(f"  {status_label(status)}: {count}")


@batch.command("export")
@click.argument("batch_id")
@click.option("--format", "fmt", type=click.Choice(["csv", "pdf"]), required=True, help="Print file format.")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Output file (default: BATCH.csv / BATCH.pdf in the current directory).",
)
@pass_settings
def batch_export(settings: Settings, batch_id, fmt, output):
    """导出制卡文件 (export the print file for the card factory: face number, QR code, Code 128)."""
    client = settings.client()
    found = client.batch(batch_id)
    output = output or Path(f"{batch_id}.{fmt}")
    cards: list[PrintCard] = []
    with _progress() as progress:
        fetching = progress.add_task("读取卡号 (fetching numbers)", total=found["count"])
        for page in client.batch_cards(batch_id):
            cards.extend(PrintCard(card["card_no"], card["check_code"]) for card in page)
            progress.update(fetching, completed=len(cards))
        writing = progress.add_task(f"生成 {fmt.upper()} (writing)", total=len(cards))

        def advance():
            progress.advance(writing)

        if fmt == "csv":
            with output.open("w", encoding="utf-8", newline="") as stream:
                write_csv(cards, stream, on_card=advance)
            pages = None
        else:
            pages = write_pdf(cards, str(output), title=f"{found['name']} ({found['id']})", on_card=advance)
    extra = f", {pages} 页 (pages)" if pages else ""
    _out().print(f"已导出 (exported) {len(cards)} 张卡 (cards){extra} → {output}")


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=_err(),
    )


# --- chips on the reader -----------------------------------------------------------------------------


@main.command()
@click.option("--batch", "batch_id", required=True, help="The batch whose next numbers the cards get.")
@reader_option
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Encode at most N cards in this run.")
@click.option(
    "--wait",
    "idle_seconds",
    type=click.FloatRange(min=0),
    default=0,
    show_default=True,
    help="Stop after this many seconds without a card (0: until every card is done or Ctrl+C).",
)
@pass_settings
def encode(settings: Settings, batch_id, reader_name, limit, idle_seconds):
    """写卡 (encode blank cards, one after the other, with the batch's next numbers).

    Each card is checked to be blank, written, read back and verified, then confirmed to the server.
    Interrupted runs resume: a half-written card gets the number it was given; an encoded card is skipped.
    """
    client = settings.client()
    found = client.batch(batch_id)
    remaining = found["progress"].get("created", 0) + found["progress"].get("encoding", 0)
    out = _err()
    if remaining == 0:
        _out().print(f"批次 {batch_id} 已全部写卡 (every card of this batch is encoded).")
        return
    encoder = BatchEncoder.for_batch(client, batch_id)
    target = min(limit or remaining, remaining)
    run = _EncodeRun(target, idle_seconds)
    with PcscCardReader(reader_name) as reader:
        out.print(f"读卡器 (reader): {escape(getattr(reader, 'name', ''))} — 请逐张放卡 (present the cards one by one)")
        if encoder.in_progress:
            out.print(
                f"{len(encoder.in_progress)} 张卡上次未写完，放上即可续写 (unfinished cards from an earlier run "
                "resume with their numbers when presented)"
            )
        with _progress() as progress:
            task = progress.add_task(f"写卡 (encoding) {batch_id}", total=target)
            try:
                run.loop(
                    reader, encoder, lambda message: progress.console.print(message), lambda: progress.advance(task)
                )
            except KeyboardInterrupt:
                progress.console.print("已中断 (interrupted): 再次运行 encode 即可继续 (run encode again to resume)")
                run.interrupted = True
    _out().print(run.summary())
    if run.interrupted:
        raise click.exceptions.Exit(130)
    if run.failures:
        raise click.exceptions.Exit(EXIT_REFUSED)


class _EncodeRun:
    """The card loop of one `encode` run and its tally."""

    def __init__(self, target: int, idle_seconds: float):
        self.target, self.idle_seconds = target, idle_seconds
        self.encoded = self.resumed = self.skipped = 0
        self.failures: dict[str, str] = {}
        self.batch_finished = self.interrupted = False
        self.last_activity = time.monotonic()

    def idle(self) -> bool:
        """True once no card came for --wait seconds."""
        return bool(self.idle_seconds) and time.monotonic() - self.last_activity > self.idle_seconds

    def loop(self, reader: CardReader, encoder: BatchEncoder, say, advance) -> None:
        """Encode cards until the target, the end of the batch, or --wait seconds without a card."""
        while self.encoded + self.resumed < self.target and not self.idle():
            try:
                info = reader.wait_for_card(CARD_POLL_SECONDS)
            except (NoCardPresent, CardRemoved):
                continue
            except WrongCardType as exc:
                say(f"✗ 卡型不符 (wrong card type): {escape(str(exc))}")
                self.last_activity = time.monotonic()
                continue
            uid = info.uid.hex().upper()
            wait = self._one_card(reader, encoder, info.uid, say, advance)
            self.last_activity = time.monotonic()
            if self.batch_finished or self.encoded + self.resumed >= self.target:
                return
            if wait:
                say(f"  请取走卡片 {uid} (remove the card)")
                if not wait_for_removal(reader, info.uid, stop=self.idle):
                    return  # --wait seconds passed with the card still on the reader
                self.last_activity = time.monotonic()

    def _one_card(self, reader, encoder: BatchEncoder, uid_bytes: bytes, say, advance) -> bool:
        """Handle one card; True if the card is still on the reader and must be taken off."""
        uid = uid_bytes.hex().upper()
        try:
            outcome = encoder.encode(reader, uid_bytes)
        except CardRemoved:
            card_no = encoder.in_progress.get(uid)
            number = f" {card_no}" if card_no else ""
            self.failures[uid] = "removed"
            say(
                f"✗ {uid}{number}: 写卡中卡片被移开 (card removed while writing) — 请放回同一张卡续写 "
                "(put the same card back to finish it with the same number)"
            )
            return False
        except CardReaderError as exc:
            self.failures[uid] = str(exc)
            say(f"✗ {uid}: 读卡器错误 (card reader error): {escape(str(exc))}")
            return True
        except EncodeError as exc:
            self.failures[uid] = str(exc)
            say(f"✗ {uid}: {escape(str(exc))}")
            return True
        except ApiError as exc:
            if exc.status in (401, 403):
                raise
            if exc.code == "conflict" and "batch_id" in exc.details:
                self.batch_finished = True
                say("本批次已全部写卡 (every card of this batch is encoded); 此卡未写 (this card was not written).")
                return False
            self.failures[uid] = exc.code
            say(f"✗ {uid}: {escape(describe_api_error(exc))}")
            return True
        self.failures.pop(uid, None)
        if outcome.result == "skipped":
            self.skipped += 1
            say(f"- {uid} {outcome.card_no}: {outcome.message}")
            return True
        if outcome.result == "resumed":
            self.resumed += 1
            label = "续写完成 (resumed and encoded)"
        else:
            self.encoded += 1
            label = "写卡完成 (encoded)"
        advance()
        say(f"✓ {uid} → {outcome.card_no} {label}, {outcome.apdu_count} APDUs, {outcome.seconds:.2f} s")
        return True

    def summary(self) -> str:
        """The run's tally."""
        text = (
            f"写卡 (encoded) {self.encoded + self.resumed}（续写 resumed {self.resumed}），"
            f"跳过 (skipped) {self.skipped}，失败 (failed) {len(self.failures)}"
        )
        if self.failures:
            text += " — 失败的卡 (failed cards): " + ", ".join(sorted(self.failures))
        return text


@main.command()
@reader_option
@click.option(
    "--wait",
    "wait_seconds",
    type=click.FloatRange(min=0),
    default=10,
    show_default=True,
    help="Seconds to wait for a card.",
)
@pass_settings
def verify(settings: Settings, reader_name, wait_seconds):
    """验卡 (read the card on the reader, check its signature and show its status on the server)."""
    client = settings.client()
    secrets = CardSecrets.from_alliance(client.alliance())
    out = _out()
    with PcscCardReader(reader_name) as reader:
        info = reader.wait_for_card(wait_seconds)
        inspection = inspect(Chip(reader, info.uid), secrets)
    uid = info.uid.hex().upper()
    out.print(f"芯片 (chip UID): {uid}")
    if inspection.state is CardState.BLANK:
        out.print("空白卡 (blank card: transport keys, not encoded)")
        raise click.exceptions.Exit(EXIT_REFUSED)
    if inspection.state is CardState.UNKNOWN:
        out.print(f"✗ 不是本联盟的有效卡 (not a valid card of this alliance): {escape(inspection.problem)}")
        raise click.exceptions.Exit(EXIT_REFUSED)
    record = inspection.record
    out.print(f"卡号 (card number): {record.card_no}  签名有效 (signature valid)")
    out.print(
        f"密钥版本 (key version) {record.key_version}, 等级 (level rank) {record.level_rank}, "
        f"计数器 (counter) {inspection.counter}"
    )
    try:
        card = client.card(record.card_no)
    except ApiError as exc:
        if exc.code != "not_found":
            raise
        out.print("✗ 服务器上没有此卡号 (the server does not know this card number)")
        raise click.exceptions.Exit(EXIT_REFUSED) from None
    out.print(
        f"服务器状态 (server status): {status_label(card['status'])}"
        + (f", 会员 (member) {card['member_id']}" if card.get("member_id") else "")
    )
    if card.get("chip_uid") != uid:
        out.print(f"✗ 此卡号属于另一芯片 {card.get('chip_uid')} (the number belongs to another chip: a copy)")
        raise click.exceptions.Exit(EXIT_REFUSED)
    if card["status"] == "encoding":
        out.print("写卡未确认 (encoding not confirmed): 运行 encode 完成 (run encode with its batch to finish it)")
    if card["status"] not in {"issued", "active"}:
        raise click.exceptions.Exit(EXIT_REFUSED)


@main.command("format")
@reader_option
@click.option(
    "--wait",
    "wait_seconds",
    type=click.FloatRange(min=0),
    default=10,
    show_default=True,
    help="Seconds to wait for a card.",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--force", is_flag=True, help="Also format a card bound to a member.")
@pass_settings
def format_command(settings: Settings, reader_name, wait_seconds, yes, force):
    """恢复测试卡 (return a test card to transport keys and empty blocks; the server keeps its record)."""
    client = settings.client()
    out = _out()
    with PcscCardReader(reader_name) as reader:
        info = reader.wait_for_card(wait_seconds)
        uid = info.uid.hex().upper()
        try:
            chip_keys = client.chip_keys(uid)
        except ApiError as exc:
            if exc.code != "not_found":
                raise
            out.print(f"✗ 服务器不认识芯片 {uid} (no card is encoded on this chip); 无需恢复 (nothing to format)")
            raise click.exceptions.Exit(EXIT_REFUSED) from None
        card = client.card(chip_keys["card_no"])
        if card["status"] == "active" and not force:
            out.print(f"✗ 卡 {card['card_no']} 已绑定会员 (is bound to a member); 用 --force 强制 (use --force)")
            raise click.exceptions.Exit(EXIT_REFUSED)
        if not yes:
            click.confirm(
                f"恢复卡 {card['card_no']} (UID {uid}) 为出厂状态 (format back to transport keys)?", abort=True
            )
        chip = Chip(reader, info.uid)
        reset = format_card(chip, keys_from_json(chip_keys["keys"]))
        if not is_blank(chip):
            raise EncodeError(
                "恢复后校验失败 (after formatting the transport key does not open every sector).", uid=uid
            )
    out.print(
        f"已恢复出厂密钥 (formatted) UID {uid}: {reset} 个扇区 (sectors) 改回出厂密钥 (transport keys); "
        f"卡号 {card['card_no']} 在服务器仍为 {status_label(card['status'])} (unchanged on the server)"
    )


# --- card lifecycle -------------------------------------------------------------------------------------


def _print_card(card: dict, as_json: bool) -> None:
    if as_json:
        _print_json(card)
        return
    out = _out()
    out.print(f"卡号 (card number): {card['card_no']}")
    out.print(f"  状态 (status): {status_label(card['status'])}")
    for key, label in (
        ("chip_uid", "芯片 (chip UID)"),
        ("member_id", "会员 (member)"),
        ("batch_id", "批次 (batch)"),
        ("replaced_by_id", "补卡为 (replaced by)"),
        ("status_changed_at", "状态变更 (changed)"),
    ):
        if card.get(key):
            out.print(f"  {label}: {card[key]}")


@main.command()
@click.argument("card_no")
@click.option("--json", "as_json", is_flag=True, help="Print the card as JSON.")
@pass_settings
def info(settings: Settings, card_no, as_json):
    """查卡 (show a card by its number)."""
    _print_card(settings.client().card(card_no), as_json)


def _lifecycle_command(action: str, name: str, summary: str):
    @main.command(name, help=summary)
    @click.argument("card_no")
    @click.option("--reason", default="", help="Why (kept in the audit log).")
    @click.option("--json", "as_json", is_flag=True, help="Print the card as JSON.")
    @pass_settings
    def command(settings: Settings, card_no, reason, as_json):
        card = settings.client().change_card(card_no, action, reason)
        if as_json:
            _print_json(card)
            return
        _out().print(f"{ACTION_DONE[action]}: {card['card_no']} → {status_label(card['status'])}")

    return command


lost = _lifecycle_command("lost", "lost", "挂失 (report a card lost: it is refused at once; points stay).")
freeze = _lifecycle_command("freeze", "freeze", "冻结 (block a card for now).")
unfreeze = _lifecycle_command("unfreeze", "unfreeze", "解冻 (lift a freeze or a loss report).")
cancel = _lifecycle_command("cancel", "cancel", "注销 (retire a card for good).")


@main.command()
@click.argument("old_card_no")
@click.argument("new_card_no")
@click.option("--json", "as_json", is_flag=True, help="Print the new card as JSON.")
@pass_settings
def replace(settings: Settings, old_card_no, new_card_no, as_json):
    """补卡 (the new card takes over the old card's member; the old card is blocked for good)."""
    card = settings.client().replace_card(old_card_no, new_card_no)
    if as_json:
        _print_json(card)
        return
    _out().print(
        f"已补卡 (replaced): {old_card_no} → {card['card_no']} {status_label(card['status'])}, "
        f"会员 (member) {card.get('member_id')}"
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
