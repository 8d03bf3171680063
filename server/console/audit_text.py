"""The audit log as sentences a person reads: "管理员 王芳 将卡 8860…0077 挂失（原因：…）", then each changed
field as "名称：旧 → 新". Names and links come from ``server/console/display.py``."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from server.console.display import (
    ROLE_LABELS,
    STATUS_LABELS,
    actor_link,
    object_link,
    percent,
    trade_label,
)
from server.console.webhook_forms import EVENT_LABELS
from server.formatting import yuan

# One sentence per action: %(actor)s did something to %(object)s.
SENTENCES = {
    "benefit_sku.create": _l("%(actor)s added benefit %(object)s"),
    "supplier.create": _l("%(actor)s added supplier %(object)s"),
    "benefit_purchase.create": _l("%(actor)s recorded benefit purchase %(object)s"),
    "benefit_purchase.generate": _l("%(actor)s generated the vouchers of purchase %(object)s"),
    "benefit_import.start": _l("%(actor)s started importing a file of codes (%(object)s)"),
    "benefit_import.receive": _l("%(actor)s received an import of codes into stock (%(object)s)"),
    "benefit_import.refuse": _l("%(actor)s imported a file of codes that was refused as a whole (%(object)s)"),
    "benefit_code.void": _l("%(actor)s voided benefit code %(object)s"),
    "benefit_code.reveal": _l("%(actor)s viewed their benefit code %(object)s in full"),
    "benefit_campaign.push": _l("%(actor)s pushed campaign %(object)s to the eligible members"),
    "benefit_code.member_used": _l("%(actor)s marked their benefit code %(object)s as used"),
    "benefit_code.supplier_redeemed": _l("%(actor)s reported codes as redeemed at the supplier (partner %(object)s)"),
    "benefit_code.reveal_secret": _l("%(actor)s read benefit code %(object)s and its secret in full"),
    "agent.login": _l("Agent %(object)s signed in to the agent portal"),
    "agent.logout": _l("Agent %(object)s signed out of the agent portal everywhere"),
    "agent.violation": _l("%(actor)s recorded a violation of agent %(object)s"),
    "card_batch.consign": _l("%(actor)s consigned cards of batch %(object)s to an agent"),
    "complaint.open": _l("%(actor)s recorded complaint %(object)s"),
    "complaint.responded": _l("%(actor)s answered complaint %(object)s"),
    "complaint.closed": _l("%(actor)s closed complaint %(object)s"),
    "brushing_flag.cleared": _l("%(actor)s cleared anti-brushing flag %(object)s"),
    "brushing_flag.confirmed": _l("%(actor)s confirmed anti-brushing flag %(object)s"),
    "brushing_rule.update": _l("%(actor)s changed anti-brushing rule %(object)s"),
    "commission_policy.update": _l("%(actor)s wrote version %(object)s of the commission policy"),
    "commission_policy.management_acknowledged": _l(
        "%(actor)s switched management commission on in policy version %(object)s, acknowledging the legal risk"
    ),
    "webhook_subscription.create": _l("%(actor)s added webhook subscription %(object)s"),
    "webhook_subscription.update": _l("%(actor)s changed webhook subscription %(object)s"),
    "webhook_subscription.delete": _l("%(actor)s deleted webhook subscription %(object)s"),
    "webhook_delivery.replay": _l("%(actor)s sent webhook delivery %(object)s again"),
    "identification.proof": _l("The member proved who they are at the till (%(object)s)"),
    "sale.rejected_reported": _l("%(actor)s reported a sale the server refused (%(object)s)"),
    "sale.rejected_resolved": _l("%(actor)s resolved a refused sale (%(object)s)"),
    "agent.create": _l("%(actor)s recorded agent %(object)s"),
    "agent.update": _l("%(actor)s changed agent %(object)s"),
    "agent.upper": _l("%(actor)s changed the upper agent of %(object)s"),
    "agent.reveal_phone": _l("%(actor)s viewed the full phone number of agent %(object)s"),
    "agent.level": _l("The evaluation changed the level of agent %(object)s"),
    "agent_alert.acknowledge": _l("%(actor)s acknowledged an alert of agent %(object)s"),
    "agent_level.create": _l("%(actor)s created agent level %(object)s"),
    "agent_level.update": _l("%(actor)s changed agent level %(object)s"),
    "agent_policy.update": _l("%(actor)s changed the agent policy"),
    "member.recruited_by_agent": _l("%(actor)s recorded the agent who recruited member %(object)s"),
    "alliance.update": _l("%(actor)s changed the alliance settings"),
    "card.bind": _l("%(actor)s bound card %(object)s to a member"),
    "card.block_stale": _l("%(actor)s blocked card %(object)s as a suspected copy"),
    "card.cancel": _l("%(actor)s cancelled card %(object)s"),
    "card.create": _l("%(actor)s issued card %(object)s"),
    "card.encode_confirm": _l("%(actor)s finished encoding card %(object)s"),
    "card.encode_start": _l("%(actor)s started encoding card %(object)s"),
    "card.freeze": _l("%(actor)s froze card %(object)s"),
    "card.replace": _l("%(actor)s replaced card %(object)s"),
    "card.replacement": _l("%(actor)s gave card %(object)s to a member as a replacement"),
    "card.report_lost": _l("%(actor)s reported card %(object)s lost"),
    "card.reveal_keys": _l("%(actor)s read the keys of card %(object)s"),
    "card.unfreeze": _l("%(actor)s unblocked card %(object)s"),
    "card_batch.create": _l("%(actor)s created card batch %(object)s"),
    "console.account_locked": _l("The console account %(object)s was locked after repeated failed sign-ins"),
    "console.sign_in": _l("%(actor)s signed in to the console"),
    "console.sign_in_refused_locked": _l("A sign-in to the locked account %(object)s was refused"),
    "console.sign_out": _l("%(actor)s signed out of the console"),
    "level.create": _l("%(actor)s created level %(object)s"),
    "level.update": _l("%(actor)s changed level %(object)s"),
    "level.retire": _l("%(actor)s retired level %(object)s"),
    "level.reinstate": _l("%(actor)s brought back level %(object)s"),
    "level.reorder": _l("%(actor)s moved level %(object)s to another rank"),
    "member.bind_wechat": _l("%(actor)s linked member %(object)s to WeChat"),
    "member.close": _l("%(actor)s closed the account of member %(object)s"),
    "member.export": _l("%(actor)s exported the data of member %(object)s"),
    "member.freeze": _l("%(actor)s froze member %(object)s"),
    "member.unfreeze": _l("%(actor)s unfroze member %(object)s"),
    "member.update": _l("%(actor)s changed the details of member %(object)s"),
    "member.level_change": _l("Member %(object)s changed level"),
    "member.login": _l("Member %(object)s signed in"),
    "member.login_wechat": _l("Member %(object)s signed in with WeChat"),
    "member.logout": _l("Member %(object)s signed out"),
    "member.register": _l("%(actor)s registered member %(object)s"),
    "member.reveal_phone": _l("%(actor)s viewed the full phone number of member %(object)s"),
    "merchant.create": _l("%(actor)s admitted merchant %(object)s"),
    "merchant.set_level_discount": _l("%(actor)s set a level discount of merchant %(object)s"),
    "merchant.update": _l("%(actor)s changed merchant %(object)s"),
    "points.adjust": _l("%(actor)s adjusted the points of member %(object)s"),
    "sale.refund": _l("%(actor)s refunded sale %(object)s"),
    "settlement.close": _l("%(actor)s closed business day %(object)s"),
    "settlement.paid": _l("%(actor)s marked statement %(object)s as paid"),
    "settlement.unpaid": _l("%(actor)s marked statement %(object)s as not paid"),
    "staff.create": _l("%(actor)s created the console account %(object)s"),
    "staff.create_token": _l("%(actor)s issued an API token to %(object)s"),
    "staff.revoke_token": _l("%(actor)s revoked an API token of %(object)s"),
    "staff.set_password": _l("%(actor)s set a new password for %(object)s"),
    "staff.change_password": _l("%(actor)s chose a new password"),
    "staff.second_factor_on": _l("%(actor)s turned on the second factor (TOTP)"),
    "staff.second_factor_off": _l("%(actor)s turned off the second factor (TOTP) of %(object)s"),
    "staff.set_status": _l("%(actor)s changed the status of %(object)s"),
    "staff.unlock": _l("%(actor)s unlocked the console account %(object)s"),
    "terminal.create": _l("%(actor)s added till %(object)s"),
    "terminal.reset_token": _l("%(actor)s reset the token of till %(object)s"),
    "terminal.set_status": _l("%(actor)s changed the status of till %(object)s"),
    # benefits: alerts, scheduled demand, failed-code claims, supplier invoices, consignment to agents
    "benefit_sku.update": _l("%(actor)s changed benefit %(object)s"),
    "benefit_alert.acknowledge": _l("%(actor)s acknowledged benefit stock alert %(object)s"),
    "benefit_demand.add": _l("%(actor)s scheduled a demand for benefit %(object)s"),
    "benefit_demand.remove": _l("%(actor)s removed a scheduled demand for benefit %(object)s"),
    "benefit_claim.report": _l("%(actor)s reported benefit code %(object)s as failed at redemption"),
    "benefit_claim.resolve": _l("%(actor)s settled the failed-redemption claim of benefit code %(object)s"),
    "benefit_invoice.record": _l("%(actor)s recorded the supplier invoice of purchase %(object)s"),
    "benefit.consign": _l("%(actor)s consigned benefits to agent %(object)s (invoiced)"),
    "benefit.consignment_paid": _l("%(actor)s recorded the payment of a benefit consignment by agent %(object)s"),
    "withdrawal.request": _l("%(actor)s requested withdrawal %(object)s"),
    "withdrawal.approve": _l("%(actor)s approved withdrawal %(object)s"),
    "withdrawal.reject": _l("%(actor)s rejected withdrawal %(object)s"),
    "withdrawal.paid": _l("Withdrawal %(object)s was paid out"),
    "withdrawal.failed": _l("The payout of withdrawal %(object)s failed; the money went back to the agent"),
    "payouts.bank_file": _l("%(actor)s exported a bank transfer file of withdrawals"),
    "payout_policy.update": _l("%(actor)s changed the withdrawal, tax and bonus pool settings"),
    "bonus_pool.accrue": _l("%(actor)s put the fee income share of %(object)s into the bonus pool"),
    "bonus_pool.distribute": _l("%(actor)s distributed the bonus pool of %(object)s"),
    "bonus_pool.reverse": _l("%(actor)s reversed the bonus pool distribution of %(object)s"),
    "bonus_pool.pay": _l("%(actor)s paid the bonus pool shares of %(object)s"),
    # benefit distribution: gifts, points exchange, campaigns, batch grants, partners
    "benefit.gift_settings": _l("%(actor)s changed the automatic benefit gifts"),
    "member.birthday": _l("%(actor)s recorded the birthday of member %(object)s"),
    "benefit.exchange": _l("%(actor)s exchanged points for a benefit (grant %(object)s)"),
    "benefit_campaign.create": _l("%(actor)s added benefit campaign %(object)s"),
    "till_gift_rule.create": _l("%(actor)s added a gift with a purchase at merchant %(object)s"),
    "till_gift_rule.update": _l("%(actor)s changed a gift with a purchase at merchant %(object)s"),
    "till_gift.void": _l("%(actor)s voided the gift of fully refunded sale %(object)s"),
    "benefit.agent_handout": _l("%(actor)s handed a consigned benefit to a member (grant %(object)s)"),
    "benefit.agent_sale": _l("%(actor)s sold a consigned benefit to a member (grant %(object)s)"),
    "benefit_campaign.activate": _l("%(actor)s activated benefit campaign %(object)s"),
    "benefit_campaign.close": _l("%(actor)s closed benefit campaign %(object)s"),
    "benefit_batch.grant": _l("%(actor)s granted a benefit to a list of members (batch %(object)s)"),
    "benefit_partner.create": _l("%(actor)s added benefit partner %(object)s and its signing key"),
    "benefit_limits.update": _l("%(actor)s changed the benefit anti-fraud budgets"),
    "benefit.partner_grant": _l("%(actor)s granted a benefit through the partner API (grant %(object)s)"),
    "ledger.archive_month": _l("%(actor)s took the ledger entries of %(object)s out for the archive"),
}
# The words for the fields that entries record (the rest are identifiers shown in the tooltip only).
FIELD_LABELS = {
    "reason": _l("Reason"),
    "amount_fen": _l("Amount"),
    "points": _l("Points"),
    "count": _l("Cards"),
    "first": _l("First number"),
    "last": _l("Last number"),
    "status": _l("Status"),
    "role": _l("Role"),
    "name": _l("Name"),
    "url": _l("Receiving URL"),  # a webhook subscription's
    "event_types": _l("Events"),
    "name_en": _l("English name"),
    "new_card_no": _l("New card"),
    "old_card_no": _l("Old card"),
    "kind": _l("Kind"),
    "member_id": _l("Member"),
    "merchant_id": _l("Merchant"),
    "recruited_by": _l("Recruited by"),
    "level": _l("Level"),
    "old": _l("Before"),
    "new": _l("After"),
    "discount_bp": _l("Discount"),
    "min_discount_bp": _l("Lowest discount"),
    "max_discount_bp": _l("Highest discount"),
    "earn_rate_bp": _l("Earn rate"),
    "max_redeem_bp": _l("Points may pay at most"),
    "service_fee_bp": _l("Service fee"),
    "service_fee_per_sale_fen": _l("Service fee per sale"),
    "trade": _l("Trade"),
    "region": _l("Region"),
    "address": _l("Address"),
    "contact_phone": _l("Contact phone"),
    "merchants": _l("Merchants"),
    "net_fen": _l("Net"),
    "uid": _l("Chip UID"),
    "point_value_fen": _l("Value of a point"),
    "level_window_days": _l("Level counting window (days)"),
    "phone": _l("Phone"),
    "rank": _l("Rank"),
    "offline_max_sale_fen": _l("Largest offline sale"),
    "offline_max_sales_per_shift": _l("Offline sales per shift"),
    "offline_max_age_hours": _l("Hours a till may stay offline"),
    "points_expiry_policy": _l("Points expiry"),
    "business_day_cutoff_hour": _l("Business day ends at (hour)"),
    "spend_min_fen": _l("Spending to reach"),
    "keep_min_fen": _l("Spending to keep"),
    "contact_name": _l("Contact person"),
    "contract_start": _l("Contract from"),
    "contract_end": _l("Contract until"),
    "status_reason": _l("Status reason"),
    "upper_agent_id": _l("Upper agent"),
    "agent_id": _l("Agent"),
    "region_code": _l("Region code"),
    "period": _l("Month"),
    "badge": _l("Badge"),
    "commission_rate_bp": _l("Commission rate"),
    "purchase_discount_bp": _l("Purchase discount"),
    "min_health_score": _l("Minimum health score"),
    "chain_max_depth": _l("Chain depth at most"),
    "grace_periods": _l("Grace periods"),
    "protection_periods": _l("Protection periods"),
    "fast_track_periods": _l("Fast track periods"),
    "health_floor": _l("Health score floor"),
    "alert_drop_bp": _l("Alert on a drop of"),
    "alert_health_below": _l("Alert under the health score"),
}
KIND_LABELS = {  # a batch's or a card's kind
    "chip": _l("Chip cards"),
    "printed": _l("Printed cards"),
    "physical": _l("Printed card"),
    "electronic": _l("E-card"),
    "person": _l("Person"),
    "company": _l("Company"),
}
OBJECT_FIELDS = {
    "member_id": "member",
    "merchant_id": "merchant",
    "recruited_by": "merchant",
    "upper_agent_id": "agent",
    "agent_id": "agent",
}


@dataclass
class AuditLine:
    """One entry as a sentence, its reason, and its field-by-field changes (label, before or None, after)."""

    sentence: Markup
    reason: Markup | None = None  # "（原因：…）", the reason as entered
    changes: list[tuple[str, Markup | None, Markup]] = field(default_factory=list)


def _value(name: str, value) -> Markup:
    """A recorded value as a person reads it: money in yuan, rates in percent, statuses and roles in words."""
    if value is None or value == "":
        return Markup("–")
    if name in OBJECT_FIELDS:
        return object_link(OBJECT_FIELDS[name], value)
    if isinstance(value, bool):
        return Markup("{}").format(_("Yes") if value else _("No"))
    if name.endswith("_fen") and isinstance(value, int):
        return Markup("{}").format(yuan(value))
    if name.endswith("_bp") and isinstance(value, int):
        return Markup("{}").format(percent(value))
    if name == "status":
        return Markup("{}").format(STATUS_LABELS.get(value, value))
    if name == "kind":
        return Markup("{}").format(KIND_LABELS.get(value, value))
    if name == "trade":
        return Markup("{}").format(trade_label(value))
    if name == "role":
        return Markup("{}").format(ROLE_LABELS.get(value, value))
    if name == "event_types" and isinstance(value, list):
        return Markup("{}").format("、".join(str(EVENT_LABELS.get(code, code)) for code in value))
    return Markup("{}").format(value)


def describe(entry) -> AuditLine:
    """An audit entry (``AuditLog``) as a sentence with its changes."""
    details = dict(entry.details or {})
    reason = str(details.pop("reason", "") or "")
    reason_text = None
    if reason:
        reason_text = Markup(_("(reason: %(reason)s)")) % {
            "reason": Markup('<span translate="no">{}</span>').format(reason)
        }
    before = details.pop("before", None) or {}
    if entry.action == "agent.upper":  # the previous upper agent is recorded as "before" itself
        before = {"upper_agent_id": before if isinstance(before, str) else None}
    if not isinstance(before, dict):
        before = {}
    template = SENTENCES.get(entry.action)
    actor, obj = actor_link(entry.actor), object_link(entry.object_type, entry.object_id)
    if template is None:
        sentence = Markup(_("%(actor)s: %(action)s on %(object)s")) % {
            "actor": actor,
            "action": Markup("<code>{}</code>").format(entry.action),
            "object": obj,
        }
    else:
        sentence = Markup(str(template)) % {"actor": actor, "object": obj}
    changes = []
    if entry.action == "member.level_change":
        changes.append(
            (
                str(FIELD_LABELS["level"]),
                _value("level", details.pop("old", None)),
                _value("level", details.pop("new", None)),
            )
        )
    for name, value in details.items():
        if name not in FIELD_LABELS:
            continue  # identifiers (card_no, refund_id, token_id...) are the object's own; not a change
        if (name in before and before[name] == value) or (name not in before and value in (None, "")):
            continue  # a field that was sent but did not change, or an empty one
        old = _value(name, before[name]) if name in before else None
        changes.append((str(FIELD_LABELS[name]), old, _value(name, value)))
    return AuditLine(sentence, reason_text, changes)
