"""Rows of the benefit analytics (docs/benefits.md, "Analytics"), shared by the API (JSON, CSV, XLSX) and the
console (tables, charts, CSV downloads): the schemas and the exported columns with their Chinese headers.

Money in fen, rates in basis points (a rate is null when nothing could be observed yet).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields

from server.exports import Column

RATE = {"description": "Basis points, rounded down; null when nothing was observed"}


class BenefitSummaryRowSchema(Schema):
    """One group's codes over the range of days."""

    group_by = fields.String(metadata={"description": "sku, channel, campaign, merchant or agent"})
    key = fields.String(metadata={"description": "The group's id (the channel's name); empty: none"})
    name = fields.String(metadata={"description": "The group's name in the reader's language"})
    issued = fields.Integer(metadata={"description": "Codes that left stock (to a member or an agent) in the range"})
    claimed = fields.Integer(metadata={"description": "Codes that reached a member in the range"})
    redeemed = fields.Integer(metadata={"description": "Codes redeemed in the range"})
    expired = fields.Integer(metadata={"description": "Codes that expired in the range"})
    redeemed_of_issued = fields.Integer(metadata={"description": "Of the codes issued in the range, redeemed by now"})
    cost_fen = fields.Integer(metadata={"description": "Purchase unit cost of the codes issued in the range"})
    redemption_rate_bp = fields.Integer(allow_none=True, metadata=RATE)


class BenefitRetentionRowSchema(Schema):
    """One cohort (the month of the members' first benefit) at one horizon (30, 60 or 90 days)."""

    cohort_month = fields.String(metadata={"description": "YYYY-MM, alliance time"})
    days = fields.Integer(metadata={"description": "The horizon: a sale within this many days counts as a return"})
    treated = fields.Integer(metadata={"description": "Members whose first benefit was in the month"})
    treated_active = fields.Integer(metadata={"description": "Of them, those who spent in the 90 days before"})
    comparison = fields.Integer(metadata={"description": "Comparable members: active before, no benefit"})
    treated_observed = fields.Integer(metadata={"description": "Treated members whose window has ended"})
    treated_returned = fields.Integer()
    treated_rate_bp = fields.Integer(allow_none=True, metadata=RATE)
    matched_observed = fields.Integer(metadata={"description": "Treated members with comparison members alike"})
    matched_returned = fields.Integer()
    matched_rate_bp = fields.Integer(allow_none=True, metadata=RATE)
    comparison_observed = fields.Integer()
    comparison_returned = fields.Integer()
    comparison_rate_bp = fields.Integer(
        allow_none=True, metadata={**RATE, "description": "Per level and city, weighted by the matched treated"}
    )
    uplift_bp = fields.Integer(allow_none=True, metadata={"description": "matched rate - comparison rate (bp)"})
    unmatched = fields.Integer(metadata={"description": "Observed treated members that could not be matched"})


SUMMARY_COLUMNS = (
    Column("name", _l("Group"), "text"),
    Column("issued", _l("Codes issued"), "int"),
    Column("claimed", _l("Codes claimed"), "int"),
    Column("redeemed", _l("Codes redeemed"), "int"),
    Column("expired", _l("Codes expired"), "int"),
    Column("redeemed_of_issued", _l("Redeemed of issued"), "int"),
    Column("cost_fen", _l("Cost (¥)"), "yuan"),
    Column("redemption_rate_bp", _l("Code redemption rate"), "percent"),
)
RETENTION_COLUMNS = (
    Column("cohort_month", _l("Cohort (month of first benefit)"), "text"),
    Column("days", _l("Within (days)"), "int"),
    Column("treated", _l("Members with a benefit"), "int"),
    Column("treated_active", _l("Of them active before"), "int"),
    Column("comparison", _l("Comparison members"), "int"),
    Column("treated_observed", _l("Observed (with a benefit)"), "int"),
    Column("treated_returned", _l("Came back (with a benefit)"), "int"),
    Column("treated_rate_bp", _l("Return rate (with a benefit)"), "percent"),
    Column("matched_observed", _l("Observed (matched)"), "int"),
    Column("matched_returned", _l("Came back (matched)"), "int"),
    Column("matched_rate_bp", _l("Return rate (matched)"), "percent"),
    Column("comparison_observed", _l("Observed (comparison)"), "int"),
    Column("comparison_returned", _l("Came back (comparison)"), "int"),
    Column("comparison_rate_bp", _l("Return rate (comparison)"), "percent"),
    Column("uplift_bp", _l("Uplift"), "percent"),
    Column("unmatched", _l("Not matched"), "int"),
)
