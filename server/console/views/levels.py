"""Member levels: their order, upgrade and keep rules over the counting window, discounts in 折 with an example
price, the discount bounds merchants choose within; levels are reordered and retired, never deleted."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from server.console import navigation
from server.console.access import current_actor, permission_required
from server.console.confirm import Confirmation, confirm_form, confirm_page
from server.console.display import domain_message
from server.console.forms import ActionForm, LevelForm, LevelWindowForm
from server.console.paging import report_invalid_filter
from server.domain.errors import DomainError
from server.domain.statuses import LevelStatus
from server.services import alliance, catalog
from server.services.alliance import get_settings

CENT = Decimal("0.01")

blp = Blueprint("levels", __name__)
navigation.add(navigation.NavItem("console.levels.index", _l("Levels"), "award", "levels:read", order=20))


EXAMPLE_FEN = 10_000  # the bill the member's price is shown for, unless ?example= (yuan) asks for another


def _example_fen() -> int:
    """The example bill (``?example=`` in yuan, e.g. 258.50); a value that is not an amount is reported."""
    value = request.args.get("example", "").strip()
    if not value:
        return EXAMPLE_FEN
    try:
        amount = Decimal(value)
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or not 0 < amount <= 1_000_000 or amount != amount.quantize(CENT):
        report_invalid_filter(_("Example bill"), value)
        return EXAMPLE_FEN
    return int(amount * 100)


@blp.route("/levels")
@permission_required("levels:read")
def index():
    """Every level, lowest first, with its rules, the counting window that governs them, and what a member
    of each level pays for an example bill."""
    settings = get_settings()
    example_fen = _example_fen()
    levels = catalog.levels_by_rank()
    return render_template(
        "console/levels/index.html",
        levels=levels,
        window_days=settings.level_window_days,
        window_form=LevelWindowForm(formdata=None, level_window_days=settings.level_window_days),
        example_fen=example_fen,
        member_prices=catalog.level_example_prices(levels, example_fen),
        member_counts=catalog.level_member_counts(),
        action=ActionForm(formdata=None),
    )


@blp.route("/levels/window", methods=["POST"])
@permission_required("levels:write")
def window():
    """Change the counting window: how many days of spend the upgrade and keep thresholds look at (audited)."""
    form = LevelWindowForm()
    if form.validate_on_submit():
        alliance.update_settings(current_actor().key, level_window_days=form.level_window_days.data)
        flash(_("Saved."), "success")
    else:
        flash(_("The window is a number of days from 1 to 3650."), "danger")
    return redirect(url_for(".index"))


@blp.route("/levels/<level_id>/move/<any(up, down):direction>", methods=["POST"])
@permission_required("levels:write")
def move(level_id, direction):
    """Swap a level with its neighbour above or below (audited)."""
    if ActionForm().validate_on_submit():
        try:
            catalog.move_level(current_actor().key, level_id, 1 if direction == "up" else -1)
        except DomainError as exc:
            flash(domain_message(exc), "danger")
    return redirect(url_for(".index"))


@blp.route("/levels/<level_id>/<any(retire, reinstate):change>", methods=["GET", "POST"])
@permission_required("levels:write")
def retire(level_id, change):
    """Retire a level (its members keep it, nobody new joins it) or bring it back, confirmed with a reason."""
    level = catalog.get_level(level_id)
    retiring = change == "retire"
    if level.status != (LevelStatus.ACTIVE if retiring else LevelStatus.RETIRED):
        flash(_("The level is already in this state."), "warning")
        return redirect(url_for(".index"))
    form = confirm_form()
    if request.method == "GET" or not form.validate_on_submit():
        holders = catalog.level_member_counts().get(level.id, 0)
        confirmation = Confirmation(
            title=(_("Retire level %(name)s") if retiring else _("Bring back level %(name)s")) % {"name": level.name},
            subject=_("%(name)s · %(n)s members hold it", name=level.name, n=holders),
            warning=_(
                "Members who hold the level keep it; nobody new joins it, by registration, card batch, upgrade or "
                "downgrade. Levels are never deleted."
            )
            if retiring
            else _("Members can again reach the level by its rules."),
            button=_("Retire") if retiring else _("Bring back"),
            action_url=url_for(".retire", level_id=level.id, change=change),
            back_url=url_for(".index"),
        )
        return confirm_page(confirmation, form)
    try:
        catalog.set_level_retired(current_actor().key, level.id, retiring, form.reason.data)
    except DomainError as exc:
        flash(domain_message(exc), "danger")
    else:
        flash(_("Saved."), "success")
    return redirect(url_for(".index"))


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
