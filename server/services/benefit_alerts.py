"""Benefit stock alerts: the jobs that raise them, the scheduled demand they weigh, the failed-code claims,
the list and the acknowledgement.

The jobs ``benefit-stock-alerts`` (low stock, short for the scheduled demand, near expiry; per SKU) and
``benefit-supplier-alerts`` (suppliers whose codes fail at redemption) gather the figures, ask the pure rules
(``server/domain/benefit_alerts.py``) and add an alert per key and period once: a second run in the same
period adds nothing and texts no one. Each new alert is texted, in the same transaction, to the responsible
staff: the phones of ``BENEFIT_ALERT_PHONES`` (configuration, comma-separated) through the SMS outbox.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from alliance_shared.money import format_yuan
from server.domain import benefit_alerts as rules
from server.domain import benefit_budgets as budget_rules
from server.domain.errors import Conflict, InvalidRequest, NotFound
from server.domain.identifiers import normalize_mobile
from server.domain.statuses import (
    BenefitAlertKind,
    BenefitAlertStatus,
    BenefitClaimStatus,
    BenefitCodeStatus,
    BenefitSkuStatus,
    SupplierStatus,
)
from server.extensions import db
from server.models import (
    BenefitAlert,
    BenefitClaim,
    BenefitCode,
    BenefitDemand,
    BenefitPurchase,
    BenefitSku,
    Supplier,
)
from server.models.base import new_id, utcnow
from server.notifications.sms import queue_sms
from server.services.alliance import get_settings
from server.services.audit import audit
from server.services.unit_of_work import transactional

SMS_TEMPLATES = {
    BenefitAlertKind.LOW_STOCK: "benefit_low_stock",
    BenefitAlertKind.DEMAND_SHORTFALL: "benefit_demand_shortfall",
    BenefitAlertKind.NEAR_EXPIRY: "benefit_near_expiry",
    BenefitAlertKind.SUPPLIER_FAILURES: "benefit_supplier_failures",
    BenefitAlertKind.VELOCITY: "benefit_velocity",
}
# how a velocity alert's SMS names what was counted and who did it
VELOCITY_ACTIONS = {"claim": "领取权益", "redeem": "核销权益", "failure": "输错券码"}
VELOCITY_SUBJECTS = {"member": "会员", "device": "设备", "ip": "IP", "terminal": "终端", "merchant": "商户"}


# --- figures ------------------------------------------------------------------------------------------


def local_midnight(day: date) -> datetime:
    """The start of ``day`` in the alliance's time zone, as an aware datetime."""
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(get_settings().timezone))


def available_lots(today: date) -> dict[str, list[rules.StockLot]]:
    """Available, unexpired codes per SKU, grouped by expiry date, with their cost (the purchase's unit cost)."""
    query = (
        select(
            BenefitCode.sku_id,
            BenefitCode.expires_on,
            func.count(BenefitCode.id),
            func.coalesce(func.sum(BenefitPurchase.unit_cost_fen), 0),
        )
        .join(BenefitPurchase, BenefitPurchase.id == BenefitCode.purchase_id)
        .where(
            BenefitCode.status == BenefitCodeStatus.AVAILABLE,
            BenefitCode.expires_on.is_(None) | (BenefitCode.expires_on >= today),
        )
        .group_by(BenefitCode.sku_id, BenefitCode.expires_on)
    )
    lots: dict[str, list[rules.StockLot]] = defaultdict(list)
    for sku_id, expires_on, count, cost in db.session.execute(query):
        lots[sku_id].append(rules.StockLot(expires_on, int(count), int(cost)))
    return lots


def scheduled_demands(since: date) -> dict[str, list[rules.Demand]]:
    """The scheduled demands from ``since`` on, per SKU."""
    demands: dict[str, list[rules.Demand]] = defaultdict(list)
    query = select(BenefitDemand.sku_id, BenefitDemand.needed_on, BenefitDemand.quantity).where(
        BenefitDemand.needed_on >= since
    )
    for sku_id, needed_on, quantity in db.session.execute(query):
        demands[sku_id].append(rules.Demand(needed_on, quantity))
    return demands


def stock_findings(day: date) -> list[rules.AlertFinding]:
    """What the stock of every active SKU calls for on ``day``: low stock, short for demand, near expiry."""
    skus = db.session.scalars(
        select(BenefitSku).where(BenefitSku.status == BenefitSkuStatus.ACTIVE).order_by(BenefitSku.code)
    ).all()
    lots, demands = available_lots(day), scheduled_demands(day)
    horizon = current_app.config["BENEFIT_DEMAND_HORIZON_DAYS"]
    findings = []
    for sku in skus:
        sku_lots = lots.get(sku.id, [])
        available = sum(lot.count for lot in sku_lots)
        findings += [
            finding
            for finding in (
                rules.low_stock(sku.id, available, sku.low_stock_threshold),
                rules.demand_shortfall(sku.id, sku_lots, demands.get(sku.id, []), day, horizon),
                rules.near_expiry(sku.id, sku_lots, day, sku.near_expiry_days),
            )
            if finding is not None
        ]
    return findings


def supplier_window_figures(day: date, window_days: int) -> dict[str, tuple[int, int]]:
    """Per supplier: codes redeemed and codes claimed failed (not rejected) in the ``window_days`` to ``day``."""
    start, end = local_midnight(day - timedelta(days=window_days - 1)), local_midnight(day + timedelta(days=1))
    redeemed = dict(
        db.session.execute(
            select(BenefitPurchase.supplier_id, func.count(BenefitCode.id))
            .join(BenefitCode, BenefitCode.purchase_id == BenefitPurchase.id)
            .where(BenefitCode.redeemed_at >= start, BenefitCode.redeemed_at < end)
            .group_by(BenefitPurchase.supplier_id)
        ).all()
    )
    failed = dict(
        db.session.execute(
            select(BenefitClaim.supplier_id, func.count(BenefitClaim.id))
            .where(
                BenefitClaim.reported_at >= start,
                BenefitClaim.reported_at < end,
                BenefitClaim.status != BenefitClaimStatus.REJECTED,
            )
            .group_by(BenefitClaim.supplier_id)
        ).all()
    )
    return {
        supplier_id: (int(redeemed.get(supplier_id, 0)), int(failed.get(supplier_id, 0)))
        for supplier_id in set(redeemed) | set(failed)
        if supplier_id
    }


def supplier_findings(day: date) -> list[rules.AlertFinding]:
    """The suppliers whose codes failed at redemption too often in the window to ``day``."""
    config = current_app.config
    window = config["BENEFIT_FAILURE_WINDOW_DAYS"]
    threshold = config["BENEFIT_FAILURE_THRESHOLD_BP"]
    minimum = config["BENEFIT_FAILURE_MIN_ATTEMPTS"]
    findings = []
    for supplier_id, (redeemed, failed) in sorted(supplier_window_figures(day, window).items()):
        finding = rules.supplier_failures(supplier_id, redeemed, failed, threshold, minimum)
        if finding is not None:
            findings.append(
                rules.AlertFinding(finding.kind, finding.subject_id, {**finding.figures, "window_days": window})
            )
    return findings


# --- raising and texting ------------------------------------------------------------------------------


def alert_phones() -> list[str]:
    """The phones benefit alerts are texted to (``BENEFIT_ALERT_PHONES``), normalised; bad entries skipped."""
    configured = current_app.config["BENEFIT_ALERT_PHONES"] or ""
    if isinstance(configured, str):
        configured = configured.split(",")
    phones = []
    for entry in configured:
        try:
            phone = normalize_mobile(str(entry).strip())
        except InvalidRequest:
            continue
        if phone not in phones:
            phones.append(phone)
    return phones


def sms_params(alert: BenefitAlert, names: dict[str, str]) -> dict:
    """The SMS template parameters of ``alert`` (names: SKU and supplier ids → names)."""
    f = alert.figures
    params = {"alliance": get_settings().name}
    if alert.kind == BenefitAlertKind.VELOCITY:
        kind = f["subject_kind"]
        return params | {
            "subject": f"{VELOCITY_SUBJECTS.get(kind, kind)}{budget_rules.mask_subject(kind, f['subject'])}",
            "what": VELOCITY_ACTIONS.get(f["action"], f["action"]),
            "count": f["count"],
            "threshold": f["threshold"],
            "period": alert.period.replace("T", " ") + "时",
        }
    if alert.kind == BenefitAlertKind.SUPPLIER_FAILURES:
        rate, line = f["rate_bp"], f["threshold_bp"]
        return params | {
            "supplier": names.get(alert.supplier_id, alert.supplier_id),
            "days": f.get("window_days", rules.DEFAULT_FAILURE_WINDOW_DAYS),
            "failed": f["failed"],
            "attempts": f["attempts"],
            "rate": f"{rate // 100}.{rate % 100:02d}",
            "threshold": f"{line // 100}.{line % 100:02d}",
        }
    params["sku"] = names.get(alert.sku_id, alert.sku_id)
    if alert.kind == BenefitAlertKind.LOW_STOCK:
        return params | {"available": f["available"], "threshold": f["threshold"]}
    if alert.kind == BenefitAlertKind.DEMAND_SHORTFALL:
        return params | {k: f[k] for k in ("demanded", "available", "short")} | {"date": f["first_short_on"]}
    return params | {
        "count": f["count"],
        "days": f["days"],
        "date": f["first_expiry"],
        "cost": format_yuan(f["cost_fen"]),
    }


def subject_names(alerts) -> dict[str, str]:
    """The names of the SKUs and suppliers ``alerts`` are about."""
    sku_ids = {a.sku_id for a in alerts if a.sku_id}
    supplier_ids = {a.supplier_id for a in alerts if a.supplier_id}
    names = {}
    if sku_ids:
        names |= dict(
            db.session.execute(select(BenefitSku.id, BenefitSku.name).where(BenefitSku.id.in_(sku_ids))).all()
        )
    if supplier_ids:
        names |= dict(db.session.execute(select(Supplier.id, Supplier.name).where(Supplier.id.in_(supplier_ids))).all())
    return names


def raise_alerts(findings: list[rules.AlertFinding], day: date) -> list[BenefitAlert]:
    """Add the alerts not yet raised for their key and period, and text each (flushes; the job's transaction)."""
    added = []
    for finding in findings:
        period = rules.alert_period(finding.kind, day)
        exists = db.session.scalar(
            select(BenefitAlert.id).where(BenefitAlert.alert_key == finding.key, BenefitAlert.period == period)
        )
        if exists is not None:
            continue
        subject = rules.SUBJECT_OF_KIND[finding.kind]
        alert = BenefitAlert(
            kind=finding.kind,
            alert_key=finding.key,
            period=period,
            sku_id=finding.subject_id if subject == "sku" else None,
            supplier_id=finding.subject_id if subject == "supplier" else None,
            figures=finding.figures,
            status=BenefitAlertStatus.OPEN,
        )
        db.session.add(alert)
        added.append(alert)
    db.session.flush()
    if added:
        names, phones = subject_names(added), alert_phones()
        for alert in added:
            for phone in phones:
                queue_sms(phone, SMS_TEMPLATES[alert.kind], **sms_params(alert, names))
            alert.texted = len(phones)
    return added


def raise_velocity_alert(finding: rules.AlertFinding, period: str) -> BenefitAlert | None:
    """Raise a velocity alert once per subject and period, and text it (flushes; the caller's transaction).

    Concurrent requests may all reach the threshold at once: the insert does nothing when the (key, period)
    exists, so exactly one of them adds and texts the alert. None when it was raised before.
    """
    table = BenefitAlert.__table__
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    alert_id = db.session.execute(
        insert(table)
        .values(
            id=new_id("bal"),
            kind=finding.kind,
            alert_key=finding.key[:80],
            period=period,
            figures=finding.figures,
            texted=0,
            status=BenefitAlertStatus.OPEN,
            raised_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["alert_key", "period"])
        .returning(table.c.id)
    ).scalar()
    if alert_id is None:
        return None
    alert = db.session.get(BenefitAlert, alert_id)
    phones = alert_phones()
    for phone in phones:
        queue_sms(phone, SMS_TEMPLATES[alert.kind], **sms_params(alert, {}))
    alert.texted = len(phones)
    return alert


def _summary(findings, added) -> dict:
    return {"found": len(findings), "raised": len(added), "texted": sum(a.texted for a in added)}


def run_stock_alerts(day: date) -> dict:
    """The job ``benefit-stock-alerts``: low stock, short for the scheduled demand and near expiry, per SKU."""
    findings = stock_findings(day)
    return _summary(findings, raise_alerts(findings, day))


def run_supplier_alerts(day: date) -> dict:
    """The job ``benefit-supplier-alerts``: suppliers whose codes fail at redemption above the threshold."""
    findings = supplier_findings(day)
    return _summary(findings, raise_alerts(findings, day))


# --- list, acknowledge --------------------------------------------------------------------------------


def list_alerts(status: str | None = None, kind: str | None = None, limit: int = 200) -> list[dict]:
    """Alerts newest first (optionally of one status or kind), each with its subject's name."""
    query = select(BenefitAlert).order_by(BenefitAlert.raised_at.desc(), BenefitAlert.id).limit(limit)
    if status:
        query = query.where(BenefitAlert.status == status)
    if kind:
        query = query.where(BenefitAlert.kind == kind)
    alerts = db.session.scalars(query).all()
    names = subject_names(alerts)
    return [
        {
            "id": a.id,
            "kind": a.kind,
            "period": a.period,
            "sku_id": a.sku_id,
            "supplier_id": a.supplier_id,
            "subject_name": names.get(a.sku_id or a.supplier_id, ""),
            "figures": dict(a.figures or {}),
            "texted": a.texted,
            "status": a.status,
            "raised_at": a.raised_at,
            "acknowledged_by": a.acknowledged_by,
            "acknowledged_at": a.acknowledged_at,
        }
        for a in alerts
    ]


def open_alert_count() -> int:
    """How many alerts are still open."""
    return int(db.session.scalar(select(func.count(BenefitAlert.id)).where(BenefitAlert.status == "open")) or 0)


@transactional
def acknowledge_alert(actor: str, alert_id: str) -> BenefitAlert:
    """Record that ``actor`` has seen and handled the alert (once, audited)."""
    alert = db.session.get(BenefitAlert, alert_id)
    if alert is None:
        raise NotFound("No such benefit alert.", alert_id=alert_id)
    if alert.status != BenefitAlertStatus.OPEN:
        raise Conflict("This alert is already acknowledged.", alert_id=alert_id)
    alert.status, alert.acknowledged_by, alert.acknowledged_at = BenefitAlertStatus.ACKNOWLEDGED, actor, utcnow()
    audit(actor, "benefit_alert.acknowledge", "benefit_alert", alert.id, kind=alert.kind, period=alert.period)
    return alert


# --- scheduled demand ---------------------------------------------------------------------------------


@transactional
def add_demand(actor: str, sku_id: str, needed_on: date, quantity: int, note: str = "") -> BenefitDemand:
    """Schedule a demand: ``quantity`` codes of the SKU needed on ``needed_on`` (audited)."""
    if db.session.get(BenefitSku, sku_id) is None:
        raise NotFound("No such benefit product.", sku_id=sku_id)
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 < quantity <= 10_000_000:
        raise InvalidRequest("The quantity must be a whole number from 1 to 10,000,000.", field="quantity")
    demand = BenefitDemand(sku_id=sku_id, needed_on=needed_on, quantity=quantity, note=(note or "").strip()[:200])
    demand.created_by = actor
    db.session.add(demand)
    db.session.flush()
    audit(actor, "benefit_demand.add", "benefit_sku", sku_id, needed_on=needed_on.isoformat(), quantity=quantity)
    return demand


@transactional
def remove_demand(actor: str, demand_id: str) -> None:
    """Remove a scheduled demand (audited)."""
    demand = db.session.get(BenefitDemand, demand_id)
    if demand is None:
        raise NotFound("No such scheduled demand.", demand_id=demand_id)
    audit(actor, "benefit_demand.remove", "benefit_sku", demand.sku_id, needed_on=demand.needed_on.isoformat())
    db.session.delete(demand)


def list_demands(since: date) -> list[dict]:
    """Scheduled demands from ``since`` on, by date, with the SKU's name."""
    rows = db.session.execute(
        select(BenefitDemand, BenefitSku.name)
        .join(BenefitSku, BenefitSku.id == BenefitDemand.sku_id)
        .where(BenefitDemand.needed_on >= since)
        .order_by(BenefitDemand.needed_on, BenefitSku.name)
    ).all()
    return [
        {
            "id": d.id,
            "sku_id": d.sku_id,
            "sku_name": name,
            "needed_on": d.needed_on,
            "quantity": d.quantity,
            "note": d.note,
        }
        for d, name in rows
    ]


# --- failed-at-redemption claims ----------------------------------------------------------------------

CLAIMABLE = (BenefitCodeStatus.ISSUED, BenefitCodeStatus.REDEEMED, BenefitCodeStatus.VOID)


@transactional
def report_failed_code(actor: str, code_id: str, reason: str) -> BenefitClaim:
    """Record that a code handed out failed at redemption (the supplier refused it), to claim its cost back.

    The claim is credited at the code's unit cost unless rejected later; a code is claimed once, and only a
    code someone held (issued, redeemed or void — not one still in stock) can fail at redemption.
    """
    reason = (reason or "").strip()
    if not reason:
        raise InvalidRequest("Give the reason.", field="reason")
    row = db.session.execute(
        select(BenefitCode.status, BenefitPurchase.supplier_id, BenefitPurchase.unit_cost_fen)
        .join(BenefitPurchase, BenefitPurchase.id == BenefitCode.purchase_id)
        .where(BenefitCode.id == code_id)
    ).first()
    if row is None:
        raise NotFound("No such benefit code.", code_id=code_id)
    status, supplier_id, unit_cost = row
    if supplier_id is None:
        raise Conflict("This code was generated by the alliance: there is no supplier to claim from.")
    if status not in CLAIMABLE:
        raise Conflict("Only a code that was handed out can fail at redemption.", status=status)
    if db.session.scalar(select(BenefitClaim.id).where(BenefitClaim.code_id == code_id)) is not None:
        raise Conflict("This code is already claimed.", code_id=code_id)
    claim = BenefitClaim(
        code_id=code_id, supplier_id=supplier_id, reason=reason[:200], credit_fen=unit_cost, reported_by=actor
    )
    db.session.add(claim)
    db.session.flush()
    audit(actor, "benefit_claim.report", "benefit_code", code_id, supplier_id=supplier_id, reason=reason[:200])
    return claim


@transactional
def resolve_claim(actor: str, claim_id: str, credited: bool) -> BenefitClaim:
    """The supplier credited the claim, or it is rejected (the code worked after all); audited."""
    claim = db.session.get(BenefitClaim, claim_id)
    if claim is None:
        raise NotFound("No such claim.", claim_id=claim_id)
    if claim.status != BenefitClaimStatus.OPEN:
        raise Conflict("This claim is already settled.", claim_id=claim_id)
    claim.status = BenefitClaimStatus.CREDITED if credited else BenefitClaimStatus.REJECTED
    claim.resolved_by, claim.resolved_at = actor, utcnow()
    audit(actor, "benefit_claim.resolve", "benefit_code", claim.code_id, claim_id=claim.id, status=claim.status)
    return claim


def list_suppliers_active() -> list[Supplier]:
    """Active suppliers by name."""
    return list(
        db.session.scalars(select(Supplier).where(Supplier.status == SupplierStatus.ACTIVE).order_by(Supplier.name))
    )
