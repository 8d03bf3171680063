"""The confirmation step of an action that cannot be taken back (cancel a card, reset a till's token,
refund, disable a staff account...): a page that says what will happen and asks for a reason (audited).

The console runs no scripts, so the step is a page of its own: the action's button opens it (GET), and
its form (POST, with a required reason) does the work.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import render_template

from server.console.forms import ConfirmForm
from server.console.once import new_key


@dataclass
class Confirmation:
    """What the confirmation page shows: the action, its object, its consequence and its button."""

    title: str
    subject: str
    warning: str
    button: str
    action_url: str
    back_url: str
    carried: dict = field(default_factory=dict)  # fields of a first form passed on (e.g. a refund's amount)


def confirm_form() -> ConfirmForm:
    """The submitted confirmation form (a fresh one-time key when first shown)."""
    form = ConfirmForm()
    if not form.once.data:
        form.once.data = new_key()
    return form


def confirm_page(confirmation: Confirmation, form: ConfirmForm | None = None):
    """The confirmation page; 422 when a submitted form lacks its reason."""
    form = form or confirm_form()
    status = 422 if form.errors else 200
    return render_template("console/confirm.html", confirm=confirmation, form=form), status
