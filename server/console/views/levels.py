"""Member levels: their order, upgrade and keep rules, and the discount bounds merchants choose within."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from server.console import navigation
from server.console.access import current_actor, permission_required
from server.console.display import domain_message
from server.console.forms import LevelForm
from server.domain.errors import DomainError
from server.services import catalog

blp = Blueprint("levels", __name__)
navigation.add(navigation.NavItem("console.levels.index", _l("Levels"), "award", "levels:read", order=20))


@blp.route("/levels")
@permission_required("levels:read")
def index():
    """Every level, lowest first, with its rules."""
    return render_template("console/levels/index.html", levels=catalog.levels_by_rank())


def _fields(form: LevelForm) -> dict:
    return {
        "name": form.name.data,
        "name_en": form.name_en.data,
        "upgrade_spend_fen": form.upgrade_spend.fen,
        "keep_spend_fen": form.keep_spend.fen,
        "protection_days": form.protection_days.data,
        "default_discount_bp": form.default_pays.bp,
        "min_discount_bp": form.min_pays.bp,
        "max_discount_bp": form.max_pays.bp,
    }


def _fill(form: LevelForm, level) -> None:
    form.upgrade_spend.set_fen(level.upgrade_spend_fen)
    form.keep_spend.set_fen(level.keep_spend_fen)
    form.default_pays.set_bp(level.default_discount_bp)
    form.min_pays.set_bp(level.min_discount_bp)
    form.max_pays.set_bp(level.max_discount_bp)


@blp.route("/levels/new", methods=["GET", "POST"])
@permission_required("levels:write")
def create():
    """Add a level; every merchant starts it at its default discount."""
    form = LevelForm()
    if form.validate_on_submit():
        try:
            catalog.create_level(current_actor().key, code=form.code.data, rank=form.rank.data, **_fields(form))
        except DomainError as exc:
            flash(domain_message(exc), "danger")
        else:
            flash(_("Level %(name)s added.", name=form.name.data), "success")
            return redirect(url_for(".index"))
    return render_template("console/levels/form.html", form=form, level=None)


@blp.route("/levels/<level_id>/edit", methods=["GET", "POST"])
@permission_required("levels:write")
def edit(level_id):
    """Change a level's names, rules or bounds; merchant discounts outside new bounds are moved into them."""
    level = catalog.get_level(level_id)
    form = LevelForm(obj=level)
    if request.method == "GET":
        _fill(form, level)
    del form.code, form.rank
    if form.validate_on_submit():
        try:
            catalog.update_level(current_actor().key, level.id, **_fields(form))
        except DomainError as exc:
            flash(domain_message(exc), "danger")
        else:
            flash(_("Saved."), "success")
            return redirect(url_for(".index"))
    return render_template("console/levels/form.html", form=form, level=level)
