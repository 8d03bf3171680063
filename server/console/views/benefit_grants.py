"""Benefit distribution (权益发放) in the console: campaigns (活动) with the gift settings, and batch grants."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from server.console import navigation
from server.console.access import current_actor, operators_only, permission_required
from server.console.benefit_grant_forms import BatchGrantForm, CampaignForm, CampaignStatusForm, GiftSettingsForm
from server.console.display import domain_message
from server.console.once import new_key, run_once
from server.domain.errors import DomainError
from server.services import benefit_catalog, benefit_grants
from server.services.alliance import get_settings

READ, WRITE = "benefits:read", "benefits:write"
blp = Blueprint("benefit_grants", __name__)
for endpoint, label, icon, order in (
    ("console.benefit_grants.campaigns", _l("Campaigns and gifts"), "megaphone", 78),
    ("console.benefit_grants.batches", _l("Batch grants"), "send", 79),
):
    navigation.add(
        navigation.NavItem(endpoint, label, icon, READ, order=order, operators_only=True, group=_l("Benefits"))
    )

MAX_BATCH_BYTES = 4 * 1024 * 1024  # a list of 20,000 members, CSV or XLSX


@blp.url_value_preprocessor
def _allow_member_lists(endpoint, values) -> None:
    """The batch page's list of members may be larger than other requests (before the form is read)."""
    if endpoint and endpoint.endswith("benefit_grants.batches"):
        request.max_content_length = MAX_BATCH_BYTES


REASON_LABELS = {
    "bad_phone": _l("Not a mobile number"),
    "not_a_member": _l("Not a member"),
    "member_not_active": _l("Membership frozen or closed"),
    "duplicate": _l("Listed twice"),
}


def _sku_choices(blank: str | None = None) -> list[tuple[str, str]]:
    rows = [(sku["id"], f"{sku['name']} ({sku['code']})") for sku in benefit_catalog.list_skus("active")]
    return [("", blank), *rows] if blank is not None else rows


def _campaign_form(formdata=None) -> CampaignForm:
    form = CampaignForm(formdata=formdata) if formdata is not None else CampaignForm(formdata=None, once=new_key())
    form.sku_id.choices = _sku_choices()
    form.min_level_rank.choices = [("", _("Any level")), *benefit_grants.level_choices()]
    form.agent_id.choices = [("", _("Any")), *benefit_grants.agent_choices()]
    return form


def _gift_form(formdata=None) -> GiftSettingsForm:
    settings = get_settings()
    form = GiftSettingsForm(formdata=formdata)
    for name in ("registration_sku_id", "level_up_sku_id", "birthday_sku_id"):
        getattr(form, name).choices = _sku_choices(_("No gift"))
    if formdata is None:
        form.registration_sku_id.data = settings.registration_gift_sku_id or ""
        form.level_up_sku_id.data = settings.level_up_gift_sku_id or ""
        form.birthday_sku_id.data = settings.birthday_gift_sku_id or ""
        form.cash_like_licensed.data = settings.points_buy_cash_like_licensed
        form.expiry_notice_days.data = settings.benefit_expiry_notice_days
        if settings.dynamic_voucher_min_fen is not None:
            form.dynamic_voucher_min.set_fen(settings.dynamic_voucher_min_fen)
    return form


def _window(form: CampaignForm) -> tuple[datetime, datetime]:
    """The campaign's first and last day, alliance time: from the first day's start to the last day's end."""
    zone = ZoneInfo(get_settings().timezone)
    starts = datetime.combine(form.starts_on.data, time(), zone)
    return starts, datetime.combine(form.ends_on.data + timedelta(days=1), time(), zone)


@blp.route("/benefits/campaigns", methods=["GET", "POST"])
@permission_required(READ)
@operators_only
def campaigns():
    """Campaigns with their budgets and who may claim them; add one; the automatic gifts' settings."""
    form, gifts, status = _campaign_form(), _gift_form(), 200
    if request.method == "POST":
        if not current_actor().can(WRITE):
            abort(403)
        if "expiry_notice_days" in request.form:
            gifts = _gift_form(request.form)
            if gifts.validate_on_submit():
                try:
                    benefit_grants.set_gift_settings(
                        current_actor().key,
                        registration_sku_id=gifts.registration_sku_id.data or None,
                        level_up_sku_id=gifts.level_up_sku_id.data or None,
                        birthday_sku_id=gifts.birthday_sku_id.data or None,
                        cash_like_licensed=gifts.cash_like_licensed.data,
                        expiry_notice_days=gifts.expiry_notice_days.data,
                        dynamic_voucher_min_fen=gifts.dynamic_voucher_min.fen,
                    )
                except DomainError as exc:
                    flash(domain_message(exc), "danger")
                else:
                    flash(_("Gift settings saved."), "success")
                    return redirect(url_for(".campaigns"))
            status = 422
        else:
            form = _campaign_form(request.form)
            if form.validate_on_submit():
                starts_at, ends_at = _window(form)
                fields = dict(
                    code=form.code.data,
                    name=form.name.data,
                    description=form.description.data,
                    sku_id=form.sku_id.data,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    total_budget=form.total_budget.data,
                    per_member_limit=form.per_member_limit.data,
                    min_level_rank=int(form.min_level_rank.data) if form.min_level_rank.data else None,
                    region_code=form.region_code.data or None,
                    agent_id=form.agent_id.data or None,
                    active_within_days=form.active_within_days.data,
                )
                try:
                    run_once(
                        form.once.data, lambda: {"id": benefit_grants.create_campaign(current_actor(), **fields).id}
                    )
                except DomainError as exc:
                    flash(domain_message(exc), "danger")
                else:
                    flash(_("Campaign added as a draft; activate it when it is ready."), "success")
                    return redirect(url_for(".campaigns"))
            status = 422
    skus = {sku["id"]: sku["name"] for sku in benefit_catalog.list_skus()}
    return render_template(
        "console/benefits/campaigns.html",
        campaigns=benefit_grants.list_campaigns(),
        skus=skus,
        form=form,
        gifts=gifts,
        status_form=CampaignStatusForm(),
    ), status


@blp.route("/benefits/campaigns/<campaign_id>/status", methods=["POST"])
@permission_required(WRITE)
@operators_only
def campaign_status(campaign_id):
    """Activate a draft campaign or close one."""
    form = CampaignStatusForm()
    if form.validate_on_submit():
        try:
            benefit_grants.set_campaign_status(current_actor(), campaign_id, form.status.data)
        except DomainError as exc:
            flash(domain_message(exc), "danger")
        else:
            flash(_("Campaign updated."), "success")
    return redirect(url_for(".campaigns"))


@blp.route("/benefits/campaigns/<campaign_id>/push", methods=["POST"])
@permission_required(WRITE)
@operators_only
def campaign_push(campaign_id):
    """Push an active campaign to every eligible member who has none of it yet."""
    form = CampaignStatusForm()
    if form.validate_on_submit():
        try:
            counts = benefit_grants.push_campaign(current_actor(), campaign_id)
        except DomainError as exc:
            flash(domain_message(exc), "danger")
        else:
            flash(
                _(
                    "Pushed to %(pushed)s members (%(already)s had it already, %(not_eligible)s not eligible, "
                    "%(skipped)s over their claim budget).",
                    **{key: counts[key] for key in ("pushed", "already", "not_eligible", "skipped")},
                )
                + (" " + _("The budget or the stock ran out.") if counts["stopped"] else ""),
                "success",
            )
    return redirect(url_for(".campaigns"))


@blp.route("/benefits/batches", methods=["GET", "POST"])
@permission_required(READ)
@operators_only
def batches():
    """Grant a benefit to a list of members (CSV/XLSX of phones): a dry run's report first, then the grant."""
    form, report, status = BatchGrantForm(formdata=None), None, 200
    form.sku_id.choices = _sku_choices()
    if request.method == "POST":
        if not current_actor().can(WRITE):
            abort(403)
        form = BatchGrantForm()
        form.sku_id.choices = _sku_choices()
        if form.validate_on_submit():
            upload = form.file.data
            try:
                report = benefit_grants.grant_batch(
                    current_actor(), form.sku_id.data, upload.filename or "", upload.read(), dry_run=form.dry_run.data
                )
            except DomainError as exc:
                flash(domain_message(exc), "danger")
                status = 422
            else:
                if report["dry_run"]:
                    flash(_("Dry run: nothing was granted. Untick the dry run to grant."), "info")
                else:
                    flash(_("%(n)s members were granted the benefit.", n=report["granted"]), "success")
        else:
            status = 422
    return render_template(
        "console/benefits/batches.html",
        form=form,
        report=report,
        reasons=REASON_LABELS,
        history=benefit_grants.list_batches(),
        skus={sku["id"]: sku["name"] for sku in benefit_catalog.list_skus()},
    ), status
