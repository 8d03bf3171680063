"""Alliance settings: name, point value, level window and offline caps (admins change them, audited)."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from server.console import navigation
from server.console.access import can, current_actor, permission_required
from server.console.forms import AllianceForm
from server.domain.errors import DomainError
from server.services import alliance

blp = Blueprint("alliance", __name__)
navigation.add(navigation.NavItem("console.alliance.index", _l("Alliance settings"), "gear", "alliance:read", order=95))


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
            flash(_(exc.message), "danger")
        else:
            flash(_("Saved."), "success")
            return redirect(url_for(".index"))
    keys = current_app.extensions["alliance_keys"]
    return render_template(
        "console/alliance.html",
        settings=settings,
        form=form,
        editable=can("alliance:write"),
        card_public_key=keys.card_public_key,
    )
