"""Alliance settings: name, point value, level window, offline caps, points expiry policy and the business
day's cut-off hour (admins change them through the audited services)."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from server.console import navigation
from server.console.access import can, current_actor, permission_required
from server.console.display import domain_message
from server.console.forms import AllianceForm, PointsPolicyForm, choice
from server.domain.errors import DomainError
from server.domain.lots import EXPIRY_POLICIES
from server.services import alliance

blp = Blueprint("alliance", __name__)
navigation.add(navigation.NavItem("console.alliance.index", _l("Alliance settings"), "gear", "alliance:read", order=95))
EXPIRY_POLICY_LABELS = {
    "months": _l("A number of months after earning"),
    "year_end": _l("At the end of the year after next"),
    "never": _l("Never"),
}


def _policy_form(settings, formdata=None) -> PointsPolicyForm:
    form = PointsPolicyForm(formdata=formdata, obj=settings)
    form.points_expiry_policy.choices = [choice(code, EXPIRY_POLICY_LABELS[code]) for code in EXPIRY_POLICIES]
    return form


def _page(form: AllianceForm, policy_form: PointsPolicyForm, status: int = 200):
    settings = alliance.get_settings()
    keys = current_app.extensions["alliance_keys"]
    return (
        render_template(
            "console/alliance.html",
            settings=settings,
            form=form,
            policy_form=policy_form,
            policy_labels=EXPIRY_POLICY_LABELS,
            editable=can("alliance:write"),
            card_public_key=keys.card_public_key,
        ),
        status,
    )


@blp.route("/alliance", methods=["GET", "POST"])
@permission_required("alliance:read")
def index():
    """The settings; admins may edit them."""
    settings = alliance.get_settings()
    form = AllianceForm(obj=settings)
    if request.method == "GET":
        form.offline_max_sale.set_fen(settings.offline_max_sale_fen)
    elif not can("alliance:write"):
        return redirect(url_for(".index"))
    elif form.validate_on_submit():
        try:
            alliance.update_settings(
                current_actor().key,
                name=form.name.data,
                point_value_fen=form.point_value_fen.data,
                level_window_days=form.level_window_days.data,
                offline_max_sale_fen=form.offline_max_sale.fen,
                offline_max_sales_per_shift=form.offline_max_sales_per_shift.data,
                offline_max_age_hours=form.offline_max_age_hours.data,
            )
        except DomainError as exc:
            flash(domain_message(exc), "danger")
        else:
            flash(_("Saved."), "success")
            return redirect(url_for(".index"))
    return _page(form, _policy_form(settings))


@blp.route("/alliance/points-policy", methods=["POST"])
@permission_required("alliance:write")
def points_policy():
    """Change the points expiry policy, the notice period or the business day's cut-off hour (as PATCH /alliance).

    The cut-off hour cannot change once a day has been closed: the service refuses and its reason is shown.
    """
    settings = alliance.get_settings()
    form = AllianceForm(formdata=None, obj=settings)
    form.offline_max_sale.set_fen(settings.offline_max_sale_fen)
    policy_form = _policy_form(settings, request.form)
    if not policy_form.validate_on_submit():
        return _page(form, policy_form, 422)
    try:
        alliance.update_points_policy(
            current_actor().key,
            **{  # a field left out of the form (optional ones) keeps its value
                name: getattr(policy_form, name).data
                for name in alliance.POINTS_POLICY_FIELDS
                if getattr(policy_form, name).data is not None
            },
        )
    except DomainError as exc:
        flash(domain_message(exc), "danger")
        return _page(form, _policy_form(alliance.get_settings(), request.form), exc.status)
    flash(_("Saved."), "success")
    return redirect(url_for(".index"))
