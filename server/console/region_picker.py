"""A merchant's region (province → city → county selects) and servicing agent on the merchant form.

The console runs no scripts: choosing a province and pressing "show its cities" re-renders the form with
the cities of that province (and likewise for counties); nothing is saved until the form is saved.
"""

from __future__ import annotations

from flask_babel import gettext as _

from server.console.forms import choice
from server.services import agent_console


def fill_choices(form) -> None:
    """Set the region selects' choices from what is chosen (or stored), and the agents to choose from."""
    for select in (form.province, form.city, form.county, form.agent_id):
        if select.data is None:  # a merchant without an agent (the form is built from the merchant)
            select.data = ""
    empty = [choice("", _("Not set"))]
    form.province.choices = empty + [choice(r.code, r.name) for r in agent_console.regions_under(None)]
    cities = agent_console.regions_under(form.province.data) if form.province.data else []
    form.city.choices = empty + [choice(r.code, r.name) for r in cities]
    counties = agent_console.regions_under(form.city.data) if form.city.data else []
    form.county.choices = empty + [choice(r.code, r.name) for r in counties]
    form.agent_id.choices = [choice("", _("No servicing agent"))] + [
        choice(agent_id, name) for agent_id, name in agent_console.agent_names().items()
    ]


def set_from(form, region_code: str | None, agent_id: str | None) -> None:
    """Show a stored region code in the three selects (and the stored agent)."""
    chain = agent_console.region_chain(region_code)
    form.province.data, form.city.data, form.county.data = (chain + ["", "", ""])[:3]
    form.agent_id.data = agent_id or ""


def region_code(form) -> str | None:
    """The most precise region chosen (None: none)."""
    return form.county.data or form.city.data or form.province.data or None


def only_picking(form) -> bool:
    """True when the user asked for the regions under a choice (the form is shown again, nothing saved)."""
    return bool(form.pick_region.data)
