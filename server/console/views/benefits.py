"""Benefits (权益): catalogue, suppliers, purchases and imports, stock by SKU and expiry, alerts, supplier
reconciliation, consignment to agents, and revealing a code in full (its own permission, with a reason)."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from server.console import navigation
from server.console.access import current_actor, operators_only, permission_required
from server.console.benefit_forms import (
    ClaimForm,
    ConsignBenefitsForm,
    DemandForm,
    ImportForm,
    InvoiceForm,
    PurchaseForm,
    RevealForm,
    SkuForm,
    SupplierForm,
)
from server.console.display import domain_message
from server.console.once import new_key, run_once
from server.console.paging import choice_arg
from server.domain.benefit_rows import REJECTION_REASONS
from server.domain.errors import DomainError
from server.domain.permissions import READ_SECRETS_PERMISSION
from server.domain.statuses import (
    BenefitAlertKind,
    BenefitAlertStatus,
    BenefitCodeStatus,
    BenefitConsignmentStatus,
    BenefitFunder,
    BenefitKind,
    BenefitPurchaseSource,
    BenefitScope,
)
from server.exports import MIMETYPES, download
from server.formatting import yuan
from server.services import (
    benefit_alerts,
    benefit_catalog,
    benefit_consignment,
    benefit_console,
    benefit_imports,
    benefit_stock,
    supplier_reconciliation,
)
from server.services.alliance import get_settings
from server.services.points import alliance_today

READ, WRITE = "benefits:read", "benefits:write"
GROUP = _l("Benefits")  # the menu's 权益 group
blp = Blueprint("benefits", __name__)


@blp.url_value_preprocessor
def _allow_import_files(endpoint, values) -> None:
    """A purchase page's file of 卡密 may be larger than other requests (before the form is read)."""
    if endpoint and endpoint.endswith("benefits.purchase"):
        request.max_content_length = benefit_imports.MAX_UPLOAD_BYTES


for endpoint, label, icon, order, pages in (
    (
        "console.benefits.catalogue",
        _l("Benefit catalogue"),
        "gift",
        70,
        ("console.benefits.new_sku", "console.benefits.edit_sku"),
    ),
    ("console.benefits.suppliers", _l("Suppliers"), "truck", 71, ()),
    ("console.benefits.purchases", _l("Purchases and imports"), "box-seam", 72, ("console.benefits.purchase",)),
    ("console.benefits.stock", _l("Benefit stock"), "stack", 73, ("console.benefits.demands",)),
    ("console.benefits.alerts", _l("Stock alerts"), "bell", 74, ()),  # and the anti-fraud velocity alerts
    ("console.benefits.reconciliation", _l("Supplier reconciliation"), "journal-check", 75, ()),
    ("console.benefits.consignments", _l("Benefits consigned to agents"), "people", 76, ()),
    ("console.benefits.reveal", _l("Reveal a code"), "key", 77, ()),
):
    navigation.add(
        navigation.NavItem(
            endpoint,
            label,
            icon,
            READ_SECRETS_PERMISSION if endpoint.endswith(".reveal") else READ,
            order=order,
            operators_only=True,
            group=GROUP,
            pages=pages,
        )
    )

KIND_LABELS = {
    BenefitKind.THIRD_PARTY_CODE: _l("Third-party code (卡密)"),
    BenefitKind.VOUCHER_CASH: _l("Cash voucher"),
    BenefitKind.VOUCHER_THRESHOLD: _l("Spend X get Y off"),
    BenefitKind.VOUCHER_PERCENT: _l("Percentage off with a cap"),
    BenefitKind.VOUCHER_ITEM: _l("Named-item voucher"),
}
SCOPE_LABELS = {
    BenefitScope.ALL: _l("All merchants"),
    BenefitScope.TRADES: _l("Merchants of these trades"),
    BenefitScope.REGIONS: _l("Merchants in these regions"),
    BenefitScope.MERCHANTS: _l("These merchants"),
}
FUNDER_LABELS = {
    BenefitFunder.ALLIANCE: _l("The alliance"),
    BenefitFunder.ACCEPTING_MERCHANT: _l("The accepting merchant"),
    BenefitFunder.SPONSOR_MERCHANT: _l("A sponsoring merchant"),
}
SOURCE_LABELS = {
    BenefitPurchaseSource.FILE_IMPORT: _l("File import"),
    BenefitPurchaseSource.SUPPLIER_API: _l("Supplier API"),
    BenefitPurchaseSource.GENERATED: _l("Generated here"),
}
CODE_STATUS_LABELS = {
    BenefitCodeStatus.AVAILABLE: _l("In stock"),
    BenefitCodeStatus.RESERVED: _l("Reserved"),
    BenefitCodeStatus.ISSUED: _l("Handed out"),
    BenefitCodeStatus.REDEEMED: _l("Used at redemption"),
    BenefitCodeStatus.VOID: _l("Void"),
    BenefitCodeStatus.EXPIRED: _l("Expired"),
}
ALERT_LABELS = {
    BenefitAlertKind.LOW_STOCK: _l("Low stock"),
    BenefitAlertKind.DEMAND_SHORTFALL: _l("Short for the scheduled demand"),
    BenefitAlertKind.NEAR_EXPIRY: _l("Near expiry"),
    BenefitAlertKind.SUPPLIER_FAILURES: _l("Codes failing at redemption"),
    BenefitAlertKind.VELOCITY: _l("Too many claims or failed attempts"),
}
VELOCITY_SUBJECTS = {
    "member": _l("Member"),
    "device": _l("Device"),
    "ip": _l("IP address"),
    "terminal": _l("Terminal"),
    "merchant": _l("Merchant"),
}
VELOCITY_ACTIONS = {"claim": _l("claims"), "redeem": _l("redemptions"), "failure": _l("failed code lookups")}
ALERT_STATE_LABELS = {BenefitAlertStatus.OPEN: _l("Open"), BenefitAlertStatus.ACKNOWLEDGED: _l("Acknowledged")}
PURCHASE_STATUS_LABELS = {"ordered": _l("Ordered"), "received": _l("Received"), "cancelled": _l("Cancelled")}
IMPORT_STATUS_LABELS = {"staging": _l("Importing"), "received": _l("Received into stock"), "refused": _l("Refused")}
CONSIGNMENT_LABELS = {
    BenefitConsignmentStatus.INVOICED: _l("Invoiced"),
    BenefitConsignmentStatus.PAID: _l("Paid up"),
    BenefitConsignmentStatus.CANCELLED: _l("Cancelled"),
}


def _labels() -> dict:
    return {
        "kind_labels": KIND_LABELS,
        "scope_labels": SCOPE_LABELS,
        "funder_labels": FUNDER_LABELS,
        "source_labels": SOURCE_LABELS,
        "code_status_labels": CODE_STATUS_LABELS,
        "alert_labels": ALERT_LABELS,
        "alert_state_labels": ALERT_STATE_LABELS,
        "velocity_subjects": VELOCITY_SUBJECTS,
        "velocity_actions": VELOCITY_ACTIONS,
        "consignment_labels": CONSIGNMENT_LABELS,
        "purchase_status_labels": PURCHASE_STATUS_LABELS,
        "import_status_labels": IMPORT_STATUS_LABELS,
    }


def _sku_choices() -> list[tuple[str, str]]:
    return [(sku["id"], f"{sku['name']} ({sku['code']})") for sku in benefit_catalog.list_skus("active")]


def _supplier_choices(blank: bool = False) -> list[tuple[str, str]]:
    rows = [(supplier.id, supplier.name) for supplier in benefit_catalog.list_suppliers()]
    return [("", _("None (generated here)")), *rows] if blank else rows


# --- catalogue ----------------------------------------------------------------------------------------


@blp.route("/benefits/catalogue")
@permission_required(READ)
@operators_only
def catalogue():
    """Every benefit product with its value, acceptance, validity, alert settings and agent prices."""
    levels = {level.id: level.name for level in benefit_console.agent_levels()}
    return render_template(
        "console/benefits/catalogue.html", skus=benefit_catalog.list_skus(), levels=levels, **_labels()
    )


def _sku_form(formdata=None) -> SkuForm:
    form = SkuForm(formdata=formdata) if formdata is not None else SkuForm(formdata=None, once=new_key())
    form.kind.choices = [(code.value, str(label)) for code, label in KIND_LABELS.items()]
    form.scope.choices = [(code.value, str(label)) for code, label in SCOPE_LABELS.items()]
    form.funder.choices = [("", _("Not a voucher"))] + [(c.value, str(label)) for c, label in FUNDER_LABELS.items()]
    form.sponsor_merchant_id.choices = [("", _("None")), *benefit_console.merchant_choices()]
    if formdata is None:
        form.low_stock_threshold.data, form.near_expiry_days.data = 0, 30
    return form


def _split(text: str) -> list[str]:
    return [part.strip() for part in (text or "").replace("，", ",").split(",") if part.strip()]


def _agent_prices(levels) -> tuple[dict[str, int], list[str]]:
    """The per-level agent prices typed on the form (yuan, up to two decimals), and the fields in error."""
    from decimal import Decimal, InvalidOperation

    prices, bad = {}, []
    for level in levels:
        text = (request.form.get(f"price_{level.id}") or "").strip()
        if not text:
            continue
        try:
            value = Decimal(text)
        except InvalidOperation:
            bad.append(level.name)
            continue
        if value < 0 or value != value.quantize(Decimal("0.01")) or value > 1_000_000:
            bad.append(level.name)
            continue
        prices[level.id] = int(value * 100)
    return prices, bad


def _sku_fields(form: SkuForm) -> dict:
    return {
        "code": form.code.data,
        "name": form.name.data,
        "kind": form.kind.data,
        "face_value_fen": form.face_value.fen,
        "sale_price_fen": form.sale_price.fen,
        "threshold_fen": form.threshold.fen,
        "percent_off_bp": form.percent_off.bp,
        "cap_fen": form.cap.fen,
        "item_name": form.item_name.data,
        "scope": form.scope.data,
        "valid_from": form.valid_from.data,
        "valid_until": form.valid_until.data,
        "valid_days": form.valid_days.data,
        "per_member_limit": form.per_member_limit.data,
        "funder": form.funder.data or None,
        "sponsor_merchant_id": form.sponsor_merchant_id.data or None,
        "low_stock_threshold": form.low_stock_threshold.data,
        "near_expiry_days": form.near_expiry_days.data,
        "description": form.description.data,
        "restore_on_refund": bool(form.restore_on_refund.data),
    }


def _fill_sku_form(form: SkuForm, sku: dict) -> dict[str, str]:
    """Fill the form from a SKU's details; the agent prices typed per level (yuan text)."""
    for name in ("code", "name", "kind", "item_name", "scope", "valid_from", "valid_until", "valid_days"):
        getattr(form, name).data = sku[name]
    form.per_member_limit.data, form.description.data = sku["per_member_limit"], sku["description"]
    form.restore_on_refund.data = sku["restore_on_refund"]
    form.funder.data, form.sponsor_merchant_id.data = sku["funder"] or "", sku["sponsor_merchant_id"] or ""
    form.face_value.set_fen(sku["face_value_fen"])
    form.sale_price.set_fen(sku["sale_price_fen"])
    for name in ("threshold", "cap"):
        if sku[f"{name}_fen"] is not None:
            getattr(form, name).set_fen(sku[f"{name}_fen"])
    if sku["percent_off_bp"] is not None:
        form.percent_off.set_bp(sku["percent_off_bp"])
    form.low_stock_threshold.data, form.near_expiry_days.data = sku["low_stock_threshold"], sku["near_expiry_days"]
    form.trades.data, form.region_codes.data = ", ".join(sku["trades"]), ", ".join(sku["region_codes"])
    form.merchant_ids.data = ", ".join(sku["merchant_ids"])
    return {level_id: f"{price / 100:.2f}" for level_id, price in sku["agent_prices"].items()}


def _save_sku(form: SkuForm, levels, save) -> bool:
    """Validate the form and the typed agent prices, then ``save(fields, prices, lists)``; True when saved."""
    prices, bad = _agent_prices(levels)
    if bad:
        flash(_("Agent prices must be amounts in yuan: %(levels)s", levels="、".join(bad)), "danger")
        return False
    if not form.validate_on_submit():
        return False
    lists = {
        "trades": _split(form.trades.data),
        "region_codes": _split(form.region_codes.data),
        "merchant_ids": _split(form.merchant_ids.data),
    }
    try:
        run_once(form.once.data, lambda: {"sku": save(_sku_fields(form), prices, lists).id})
    except DomainError as exc:
        flash(domain_message(exc), "danger")
        return False
    flash(_("Benefit product saved."), "success")
    return True


@blp.route("/benefits/catalogue/new", methods=["GET", "POST"])
@permission_required(WRITE)
@operators_only
def new_sku():
    """Add a benefit product: its kind and value, who accepts it, validity, limits, funder and agent prices."""
    levels = benefit_console.agent_levels()
    form = _sku_form(request.form if request.method == "POST" else None)
    if request.method == "POST":

        def save(fields, prices, lists):
            return benefit_catalog.create_sku(current_actor(), agent_prices=prices, **lists, **fields)

        if _save_sku(form, levels, save):
            return redirect(url_for(".catalogue"))
    status = 422 if request.method == "POST" else 200
    page = render_template("console/benefits/sku_form.html", form=form, levels=levels, prices={}, sku=None, **_labels())
    return page, status


@blp.route("/benefits/catalogue/<sku_id>/edit", methods=["GET", "POST"])
@permission_required(WRITE)
@operators_only
def edit_sku(sku_id):
    """Change a benefit product's terms, acceptance and agent prices (its code and kind stay)."""
    sku = benefit_catalog.sku_details(benefit_catalog.get_sku(sku_id))
    levels = benefit_console.agent_levels()
    form = _sku_form(request.form if request.method == "POST" else None)
    prices = _fill_sku_form(form, sku) if request.method == "GET" else {}
    if request.method == "POST":
        form.code.data, form.kind.data = sku["code"], sku["kind"]

        def save(fields, typed, lists):
            return benefit_catalog.update_sku(current_actor(), sku_id, agent_prices=typed, **lists, **fields)

        if _save_sku(form, levels, save):
            return redirect(url_for(".catalogue"))
    status = 422 if request.method == "POST" else 200
    page = render_template(
        "console/benefits/sku_form.html", form=form, levels=levels, prices=prices, sku=sku, **_labels()
    )
    return page, status


# --- suppliers ----------------------------------------------------------------------------------------


@blp.route("/benefits/suppliers", methods=["GET", "POST"])
@permission_required(READ)
@operators_only
def suppliers():
    """Suppliers with their contacts and terms; add one."""
    form = SupplierForm(formdata=None, once=new_key())
    status = 200
    if request.method == "POST":
        if not current_actor().can(WRITE):
            abort(403)
        form = SupplierForm()
        if form.validate_on_submit():
            fields = {name: getattr(form, name).data for name in benefit_catalog.SUPPLIER_FIELDS}
            try:
                run_once(form.once.data, lambda: {"id": benefit_catalog.create_supplier(current_actor(), **fields).id})
            except DomainError as exc:
                flash(domain_message(exc), "danger")
            else:
                flash(_("Supplier added."), "success")
                return redirect(url_for(".suppliers"))
        status = 422
    return render_template(
        "console/benefits/suppliers.html", suppliers=benefit_catalog.list_suppliers(), form=form
    ), status


# --- purchases and imports ----------------------------------------------------------------------------


def _purchase_form(formdata=None) -> PurchaseForm:
    form = PurchaseForm(formdata=formdata) if formdata is not None else PurchaseForm(formdata=None, once=new_key())
    form.sku_id.choices = _sku_choices()
    form.supplier_id.choices = _supplier_choices(blank=True)
    form.source.choices = [(code.value, str(label)) for code, label in SOURCE_LABELS.items()]
    if formdata is None:
        form.purchase_date.data = alliance_today()
    return form


@blp.route("/benefits/purchases", methods=["GET", "POST"])
@permission_required(READ)
@operators_only
def purchases():
    """Purchase batches newest first (received count against quantity); add one."""
    form, status = _purchase_form(), 200
    if request.method == "POST":
        if not current_actor().can(WRITE):
            abort(403)
        form = _purchase_form(request.form)
        if form.validate_on_submit():
            try:
                done = run_once(
                    form.once.data,
                    lambda: {
                        "id": benefit_catalog.create_purchase(
                            current_actor(),
                            sku_id=form.sku_id.data,
                            supplier_id=form.supplier_id.data or None,
                            source=form.source.data,
                            quantity=form.quantity.data,
                            unit_cost_fen=form.unit_cost.fen,
                            invoice_number=form.invoice_number.data,
                            purchase_date=form.purchase_date.data,
                            valid_until=form.valid_until.data,
                        ).id
                    },
                )
            except DomainError as exc:
                flash(domain_message(exc), "danger")
            else:
                flash(_("Purchase added: import its codes next."), "success")
                return redirect(url_for(".purchase", purchase_id=done.body["id"]))
        status = 422
    rows = benefit_console.list_purchases()
    return render_template("console/benefits/purchases.html", rows=rows, form=form, **_labels()), status


@blp.route("/benefits/purchases/<purchase_id>", methods=["GET", "POST"])
@permission_required(READ)
@operators_only
def purchase(purchase_id):
    """A purchase: its figures, its imports with their rejected-rows reports, and the import upload."""
    found = benefit_catalog.get_purchase(purchase_id)
    form, status = ImportForm(formdata=None, once=new_key()), 200
    if request.method == "POST":
        if not current_actor().can(WRITE):
            abort(403)
        form = ImportForm()
        if form.validate_on_submit():
            upload = form.file.data
            data = upload.read()
            try:
                job = benefit_imports.import_file(
                    current_actor(), found.id, data, upload.filename or "", all_or_nothing=form.all_or_nothing.data
                )
            except DomainError as exc:
                flash(domain_message(exc), "danger")
                status = 409
            else:
                if job.status == "received":
                    flash(_("%(count)s codes received into stock.", count=job.rows_received), "success")
                else:
                    flash(_("Nothing imported: %(count)s rows were refused.", count=job.rows_rejected), "danger")
                return redirect(url_for(".purchase", purchase_id=found.id))
        else:
            status = 422
    details = benefit_console.purchase_details(found.id)
    return render_template(
        "console/benefits/purchase.html",
        purchase=found,
        details=details,
        form=form,
        rejection_reasons=REJECTION_REASONS,
        **_labels(),
    ), status


# --- stock and scheduled demand -----------------------------------------------------------------------


@blp.route("/benefits/stock")
@permission_required(READ)
@operators_only
def stock():
    """Codes per SKU by status and expiry month."""
    rows = benefit_stock.stock_counts()
    names = {sku["id"]: sku["name"] for sku in benefit_catalog.list_skus()}
    return render_template("console/benefits/stock.html", rows=rows, names=names, **_labels())


@blp.route("/benefits/demands", methods=["GET", "POST"])
@permission_required(READ)
@operators_only
def demands():
    """The scheduled demand (campaigns: SKU, date, quantity) the stock alerts weigh; add or remove one."""
    form, status = DemandForm(formdata=None, once=new_key()), 200
    form.sku_id.choices = _sku_choices()
    if request.method == "POST":
        if not current_actor().can(WRITE):
            abort(403)
        if request.form.get("remove"):
            try:
                benefit_alerts.remove_demand(current_actor().key, request.form["remove"])
            except DomainError as exc:
                flash(domain_message(exc), "danger")
            return redirect(url_for(".demands"))
        form = DemandForm()
        form.sku_id.choices = _sku_choices()
        if form.validate_on_submit():
            try:
                run_once(
                    form.once.data,
                    lambda: {
                        "id": benefit_alerts.add_demand(
                            current_actor().key,
                            form.sku_id.data,
                            form.needed_on.data,
                            form.quantity.data,
                            form.note.data,
                        ).id
                    },
                )
            except DomainError as exc:
                flash(domain_message(exc), "danger")
            else:
                flash(_("Demand scheduled."), "success")
                return redirect(url_for(".demands"))
        status = 422
    rows = benefit_alerts.list_demands(alliance_today())
    return render_template("console/benefits/demands.html", rows=rows, form=form), status


# --- alerts -------------------------------------------------------------------------------------------


@blp.route("/benefits/alerts")
@permission_required(READ)
@operators_only
def alerts():
    """Stock alerts newest first, open ones by default."""
    state = choice_arg("state", tuple(BenefitAlertStatus), _("State"))
    if "state" not in request.args:
        state = BenefitAlertStatus.OPEN
    kind = choice_arg("kind", tuple(BenefitAlertKind), _("Kind"))
    rows = benefit_alerts.list_alerts(status=state or None, kind=kind or None)
    return render_template("console/benefits/alerts.html", rows=rows, state=state, kind=kind, **_labels())


@blp.route("/benefits/alerts/<alert_id>/acknowledge", methods=["POST"])
@permission_required(WRITE)
@operators_only
def acknowledge(alert_id):
    """Acknowledge an alert (it leaves the open list; audited)."""
    try:
        benefit_alerts.acknowledge_alert(current_actor().key, alert_id)
    except DomainError as exc:
        flash(domain_message(exc), "danger")
    else:
        flash(_("Alert acknowledged."), "success")
    return redirect(url_for(".alerts"))


# --- supplier reconciliation --------------------------------------------------------------------------


def _month_arg() -> str:
    month = (request.args.get("month") or "").strip()
    if not month:
        today = alliance_today()
        last = date(today.year - (today.month == 1), (today.month - 2) % 12 + 1, 1)
        month = f"{last.year:04d}-{last.month:02d}"
    return month


@blp.route("/benefits/reconciliation", methods=["GET", "POST"])
@permission_required(READ)
@operators_only
def reconciliation():
    """A supplier's month: figures per SKU, the amount due, the differences; downloads; invoices and claims."""
    supplier_id, month = request.args.get("supplier", ""), _month_arg()
    choices = _supplier_choices()
    if not supplier_id and choices:
        supplier_id = choices[0][0]
    invoice_form, claim_form = InvoiceForm(formdata=None, once=new_key()), ClaimForm(formdata=None, once=new_key())
    status = 200
    if request.method == "POST":
        if not current_actor().can(WRITE):
            abort(403)
        if request.form.get("form") == "invoice":
            invoice_form = InvoiceForm()
            invoice_form.purchase_id.choices = benefit_console.purchase_choices(supplier_id)
            if invoice_form.validate_on_submit():
                try:
                    supplier_reconciliation.record_invoice(
                        current_actor().key,
                        invoice_form.purchase_id.data,
                        invoice_form.total.fen,
                        invoice_form.invoice_number.data,
                    )
                except DomainError as exc:
                    flash(domain_message(exc), "danger")
                else:
                    flash(_("Invoice recorded."), "success")
                    return redirect(url_for(".reconciliation", supplier=supplier_id, month=month))
        else:
            claim_form = ClaimForm()
            if claim_form.validate_on_submit():
                try:
                    benefit_alerts.report_failed_code(
                        current_actor().key, claim_form.code_id.data, claim_form.reason.data
                    )
                except DomainError as exc:
                    flash(domain_message(exc), "danger")
                else:
                    flash(_("Failed code reported: its cost is credited against the supplier."), "success")
                    return redirect(url_for(".reconciliation", supplier=supplier_id, month=month))
        status = 422
    invoice_form.purchase_id.choices = benefit_console.purchase_choices(supplier_id) if supplier_id else []
    report, error = None, None
    if supplier_id:
        try:
            report = supplier_reconciliation.supplier_month(supplier_id, month)
        except DomainError as exc:
            error = domain_message(exc)
    texts = [supplier_reconciliation.difference_text(d) for d in report["differences"]] if report else []
    return render_template(
        "console/benefits/reconciliation.html",
        suppliers=choices,
        supplier_id=supplier_id,
        month=month,
        report=report,
        differences=texts,
        error=error,
        invoice_form=invoice_form,
        claim_form=claim_form,
    ), status


@blp.route("/benefits/reconciliation.<any(csv, xlsx, pdf):fmt>")
@permission_required(READ)
@operators_only
def reconciliation_file(fmt):
    """The supplier's month as CSV, XLSX or PDF."""
    report = supplier_reconciliation.supplier_month(request.args.get("supplier", ""), _month_arg())
    stem = f"supplier-reconciliation-{report['month']}"
    if fmt == "pdf":
        content = supplier_reconciliation.reconciliation_pdf(report, get_settings().name)
        return download(content, "application/pdf", f"{stem}.pdf")
    return download(supplier_reconciliation.reconciliation_table(report, fmt), MIMETYPES[fmt], f"{stem}.{fmt}")


# --- consignment to agents ----------------------------------------------------------------------------


def _consign_form(formdata=None) -> ConsignBenefitsForm:
    form = (
        ConsignBenefitsForm(formdata=formdata)
        if formdata is not None
        else ConsignBenefitsForm(formdata=None, once=new_key())
    )
    form.agent_id.choices = [(agent.id, agent.name) for agent in benefit_consignment.consignable_agents()]
    form.sku_id.choices = _sku_choices()
    return form


@blp.route("/benefits/consignments", methods=["GET", "POST"])
@permission_required(READ)
@operators_only
def consignments():
    """Codes consigned to agents at their level price, invoiced; what the agents handed on, where redeemed."""
    form, status = _consign_form(), 200
    if request.method == "POST":
        if not current_actor().can(WRITE):
            abort(403)
        if request.form.get("paid"):
            try:
                benefit_consignment.mark_paid(
                    current_actor().key,
                    request.form["paid"],
                    request.form.get("reference", ""),
                    from_commission=bool(request.form.get("from_commission")),
                )
            except DomainError as exc:
                flash(domain_message(exc), "danger")
            else:
                flash(_("Payment recorded."), "success")
            return redirect(url_for(".consignments"))
        form = _consign_form(request.form)
        if form.validate_on_submit():
            try:
                done = run_once(
                    form.once.data,
                    lambda: {
                        "amount_fen": benefit_consignment.consign_benefits(
                            current_actor().key, form.agent_id.data, form.sku_id.data, form.quantity.data
                        ).amount_fen
                    },
                )
            except DomainError as exc:
                flash(domain_message(exc), "danger")
            else:
                owed = yuan(done.body["amount_fen"])
                flash(_("Consigned and invoiced: the agent owes %(amount)s.", amount=owed), "success")
                return redirect(url_for(".consignments"))
        status = 422
    rows = benefit_consignment.consignment_outcomes()
    return render_template("console/benefits/consignments.html", rows=rows, form=form, **_labels()), status


# --- reveal -------------------------------------------------------------------------------------------


@blp.route("/benefits/reveal", methods=["GET", "POST"])
@permission_required(READ_SECRETS_PERMISSION)
@operators_only
def reveal():
    """Show one code and its secret in full, with the reason (audited); needs the read-secrets permission."""
    form, shown, status = RevealForm(), None, 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                shown = benefit_stock.reveal_for_staff(current_actor(), form.code_id.data, form.reason.data)
            except DomainError as exc:
                flash(domain_message(exc), "danger")
                status = 409
        else:
            status = 422
    page = render_template("console/benefits/reveal.html", form=form, shown=shown, **_labels())
    return page, status, {"Cache-Control": "no-store"}
