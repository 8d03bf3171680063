"""Benefit distribution (权益发放): every issue of a benefit to a member goes through ``_grant`` here.

Each issue names its channel (``BenefitChannel``) and a source id, unique together (``benefit_grants``): the
same (channel, source id) again is answered with the first grant, so a retried request, a re-run job or a file
uploaded twice never issues a second code. Channels (docs/benefits.md, "Distribution channels"):

- automatic gifts: at registration, at a level-up, on the birthday (the SKU per trigger is an alliance setting;
  ``birthday-gifts`` is a job of ``jobs run``). A gift never stops what triggered it: it runs in a savepoint
  and a refusal (no stock, per-member limit) is logged and skipped;
- points exchange: the member spends ``sku.points_price`` points (ledger kind ``benefit_exchange``, against the
  alliance adjustments account; lots spent closest expiry first). Cash-like benefits
  (``server.domain.benefit_channels.is_cash_like``) only with ``points_buy_cash_like_licensed`` on;
- campaigns (活动): claimable in their window by eligible members, within the total budget (a guarded
  ``UPDATE … SET remaining = remaining - 1 WHERE remaining > 0``: exactly once under concurrency) and the
  per-member limit (the n-th claim of a member is source id ``<campaign>:<member>:<n>``, unique);
- batch grants: a CSV/XLSX list of phones, checked by a dry run, then granted in one transaction with a report;
- partners: a signed request (HMAC-SHA256 over method, path, timestamp, nonce and the body's hash; the nonce is
  kept, the timestamp within 5 minutes), idempotent on the partner's request id.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import secrets
from collections.abc import Mapping
from datetime import date, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from server.domain import benefit_budgets as budget_rules
from server.domain import ledger as ledger_rules
from server.domain.benefit_channels import (
    CampaignRules,
    MemberFacts,
    birthday_key,
    campaign_refusal,
    is_cash_like,
    partner_request_fresh,
    partner_signature,
    signature_matches,
)
from server.domain.errors import (
    BenefitBudgetExhausted,
    BenefitNotEligible,
    BenefitOutOfStock,
    BenefitSecondFactorRequired,
    Conflict,
    DomainError,
    InvalidRequest,
    NotFound,
    PartnerSignatureInvalid,
)
from server.domain.identifiers import normalize_mobile
from server.domain.statuses import (
    BenefitCampaignStatus,
    BenefitChannel,
    BenefitCodeStatus,
    BenefitPartnerStatus,
    BenefitSkuStatus,
    MemberStatus,
)
from server.extensions import db
from server.models import (
    ALLIANCE_OWNER,
    Agent,
    BenefitCampaign,
    BenefitCode,
    BenefitGrant,
    BenefitGrantBatch,
    BenefitPartner,
    BenefitPartnerNonce,
    BenefitSku,
    Level,
    Member,
    Merchant,
    Region,
    Sale,
)
from server.models.base import utcnow
from server.notifications.sms import queue_sms
from server.security.pii import decrypt_phone, decrypt_text, encrypt_text, phone_lookup_hash
from server.services import benefit_fraud, ledger, one_time_codes, webhooks
from server.services.alliance import current_settings, get_settings
from server.services.audit import audit
from server.services.benefit_catalog import get_sku
from server.services.benefit_stock import allocate
from server.services.points import alliance_today, spend_lots
from server.services.unit_of_work import transactional

log = logging.getLogger(__name__)

C = BenefitChannel
MAX_BATCH_ROWS = 20_000
# channels a member (or a partner, an agent on the member's behalf) asks for: limited by the claim budgets;
# automatic gifts and the operator's batch grants are not
CLAIM_CHANNELS = frozenset({C.CAMPAIGN, C.POINTS_EXCHANGE, C.PARTNER, C.AGENT})
GIFT_SETTINGS = {
    C.REGISTRATION: "registration_gift_sku_id",
    C.LEVEL_UP: "level_up_gift_sku_id",
    C.BIRTHDAY: "birthday_gift_sku_id",
}


# --- the one way a benefit reaches a member ---
def _grant(
    channel: str,
    source_id: str,
    member_id: str,
    sku_id: str,
    actor: str,
    *,
    campaign_id: str | None = None,
    batch_id: str | None = None,
    partner_id: str | None = None,
    points_spent: int = 0,
    origin: Mapping[str, str | None] | None = None,
) -> tuple[BenefitGrant, bool]:
    """Issue one code of ``sku_id`` to the member for (channel, source id); the grant and whether it is new.

    Flushes only (the caller's transaction). A source id granted before answers with that grant. A new grant
    of a claim channel (``CLAIM_CHANNELS``) takes the member's claim budget and that of ``origin`` (the
    device, the IP address: ``server/services/benefit_fraud.py``); every new grant emits ``benefit.issued``.
    """
    existing = db.session.scalar(
        select(BenefitGrant).where(BenefitGrant.channel == channel, BenefitGrant.source_id == source_id)
    )
    if existing is not None:
        if existing.member_id != member_id or existing.sku_id != sku_id:
            raise Conflict("This source id was used for another grant.", field="source_id")
        return existing, False
    if channel in CLAIM_CHANNELS:
        benefit_fraud.take(budget_rules.CLAIM, {budget_rules.MEMBER: member_id, **(origin or {})})
    (code_id,) = allocate(sku_id, member_id=member_id)
    grant = BenefitGrant(
        channel=channel,
        source_id=source_id,
        member_id=member_id,
        sku_id=sku_id,
        code_id=code_id,
        campaign_id=campaign_id,
        batch_id=batch_id,
        partner_id=partner_id,
        points_spent=points_spent,
        created_by=actor,
    )
    db.session.add(grant)
    db.session.flush()
    webhooks.emit(db.session, "benefit.issued", webhooks.benefit_issued_payload(grant))
    return grant, True


def grant(channel: str, source_id: str, member_id: str, sku_id: str, actor: str) -> BenefitGrant:
    """An issue through a channel whose rules live elsewhere (till gifts, agents): ``_grant``, the grant only."""
    return _grant(channel, source_id, member_id, sku_id, actor)[0]


def grant_held_code(channel: str, source_id: str, member_id: str, code: BenefitCode, actor: str) -> BenefitGrant:
    """The grant of a code already out of stock (an agent's consigned code handed to a member): flushes only.
    Like every grant it takes the member's claim budget (a claim channel) and emits ``benefit.issued``."""
    if channel in CLAIM_CHANNELS:
        benefit_fraud.take(budget_rules.CLAIM, {budget_rules.MEMBER: member_id})
    grant = BenefitGrant(
        channel=channel, source_id=source_id, member_id=member_id, sku_id=code.sku_id, code_id=code.id, created_by=actor
    )
    db.session.add(grant)
    db.session.flush()
    webhooks.emit(db.session, "benefit.issued", webhooks.benefit_issued_payload(grant))
    return grant


def _gift(channel: str, member_id: str, source_id: str) -> BenefitGrant | None:
    """An automatic gift, if the alliance set one for this trigger; never fails what triggered it (savepoint)."""
    sku_id = getattr(current_settings(), GIFT_SETTINGS[channel])  # on the sale's path (a level-up): the copy
    if not sku_id:
        return None
    try:
        with db.session.begin_nested():
            grant, _ = _grant(channel, source_id, member_id, sku_id, f"system:{channel}")
            return grant
    except (DomainError, IntegrityError) as error:
        log.warning("benefit gift %s for %s skipped: %s", channel, member_id, error)
        return None


def registration_gift(member_id: str) -> BenefitGrant | None:
    """The registration gift (called by ``register_member`` in its transaction)."""
    return _gift(C.REGISTRATION, member_id, member_id)


def level_up_gift(member_id: str, level_code: str) -> BenefitGrant | None:
    """The level-up gift, once per member and level reached (called where a level rises)."""
    return _gift(C.LEVEL_UP, member_id, f"{member_id}:{level_code}")


@transactional
def birthday_gifts(day: date) -> dict:
    """The ``birthday-gifts`` job: the birthday gift to active members whose birthday is ``day`` (once a year)."""
    if not get_settings().birthday_gift_sku_id:
        return {"granted": 0, "skipped": 0}
    members = db.session.scalars(
        select(Member.id).where(Member.birth_md.in_(birthday_key(day)), Member.status == MemberStatus.ACTIVE)
    ).all()
    granted = 0
    for member_id in members:
        granted += _gift(C.BIRTHDAY, member_id, f"{member_id}:{day.year}") is not None
    return {"granted": granted, "skipped": len(members) - granted}


@transactional
def set_gift_settings(
    actor: str,
    *,
    registration_sku_id: str | None,
    level_up_sku_id: str | None,
    birthday_sku_id: str | None,
    cash_like_licensed: bool | None = None,
    expiry_notice_days: int | None = None,
    dynamic_voucher_min_fen: int | None | type(...) = ...,
):
    """Choose the SKU given per trigger (None: no gift), the licence switch, the expiry reminder's lead and the
    value from which a voucher is shown only as a one-time dynamic code (None: never; ``...``: unchanged)."""
    settings = get_settings()
    chosen = {
        "registration_gift_sku_id": registration_sku_id or None,
        "level_up_gift_sku_id": level_up_sku_id or None,
        "birthday_gift_sku_id": birthday_sku_id or None,
    }
    for name, sku_id in chosen.items():
        if sku_id is not None:
            get_sku(sku_id)
        setattr(settings, name, sku_id)
    if cash_like_licensed is not None:
        settings.points_buy_cash_like_licensed = cash_like_licensed
    if expiry_notice_days is not None:
        if not 0 <= expiry_notice_days <= 60:
            raise InvalidRequest("Remind between 0 and 60 days before expiry.", field="expiry_notice_days")
        settings.benefit_expiry_notice_days = expiry_notice_days
    if dynamic_voucher_min_fen is not ...:
        if dynamic_voucher_min_fen is not None and not 1 <= dynamic_voucher_min_fen <= 100_000_000:
            raise InvalidRequest("The dynamic code threshold is between 0.01 and 1000000 yuan.", field="dynamic")
        settings.dynamic_voucher_min_fen = dynamic_voucher_min_fen
    audit(actor, "benefit.gift_settings", "alliance", "1", **chosen, licensed=cash_like_licensed)
    return settings


@transactional
def set_birthday(actor: str, member_id: str, birth_md: str | None, *, once: bool = False) -> None:
    """Record a member's birthday (``MM-DD``, from ``normalize_birthday``; None clears it).

    ``once``: the member's own page sets it only while unset (a changed birthday is customer service's)."""
    member = db.session.get(Member, member_id)
    if member is None:
        raise NotFound("No such member.")
    if once and member.birth_md is not None:
        raise Conflict("The birthday is recorded already; customer service can correct it.")
    member.birth_md = birth_md
    audit(actor, "member.birthday", "member", member_id)


def birthday_of(member_id: str) -> str | None:
    return db.session.scalar(select(Member.birth_md).where(Member.id == member_id))


# --- points exchange ---
def exchange_offers(member_id: str | None = None) -> list[BenefitSku]:
    """The SKUs members may take for points (active, with a points price; cash-like only under licence)."""
    licensed = get_settings().points_buy_cash_like_licensed
    skus = db.session.scalars(
        select(BenefitSku)
        .where(BenefitSku.points_price.is_not(None), BenefitSku.status == BenefitSkuStatus.ACTIVE)
        .order_by(BenefitSku.points_price)
    ).all()
    return [sku for sku in skus if licensed or not is_cash_like(sku.kind)]


@transactional
def exchange_points(
    member_id: str,
    sku_id: str,
    request_id: str,
    *,
    origin: Mapping[str, str | None] | None = None,
    sms_code: str | None = None,
    second_factor: bool = False,
) -> BenefitGrant:
    """The member spends the SKU's points price for one code (idempotent on the member's request id).

    ``origin`` and ``second_factor`` as for :func:`claim`.
    """
    if not request_id or len(request_id) > 64:
        raise InvalidRequest("Give a request id (at most 64 characters).", field="request_id")
    member = db.session.get(Member, member_id)
    if member is None or member.status != MemberStatus.ACTIVE:
        raise NotFound("No such member.")
    sku = get_sku(sku_id)
    if sku.points_price is None or sku.status != BenefitSkuStatus.ACTIVE:
        raise Conflict("This benefit cannot be exchanged for points.")
    if is_cash_like(sku.kind) and not get_settings().points_buy_cash_like_licensed:
        raise Conflict("Points cannot buy cash-like benefits under the alliance's licence.")
    source = f"{member_id}:{request_id}"
    if (
        db.session.scalar(
            select(BenefitGrant.id).where(BenefitGrant.channel == C.POINTS_EXCHANGE, BenefitGrant.source_id == source)
        )
        is None
    ):  # a repeated request answers with its grant, without a second code
        _second_factor(member_id, sku, sms_code, second_factor)
    grant, new = _grant(
        C.POINTS_EXCHANGE,
        source,
        member_id,
        sku.id,
        f"member:{member_id}",
        points_spent=sku.points_price,
        origin=origin,
    )
    if new:
        adjustments = ledger.account_id(ledger_rules.ALLIANCE_ADJUSTMENTS, ALLIANCE_OWNER)
        postings = ledger_rules.adjustment_postings(member.points_account_id, adjustments, -sku.points_price)
        ledger.post("benefit_exchange", postings, f"member:{member_id}", memo=f"{sku.code} {grant.id}")
        spend_lots(member_id, sku.points_price, "exchange")
        audit(
            f"member:{member_id}", "benefit.exchange", "benefit_grant", grant.id, sku=sku.code, points=sku.points_price
        )
    return grant


# --- the second factor of high-value claims on the member's page ---
CLAIM_CODE = "benefit_claim"


def _claim_subject(member_id: str, sku_id: str) -> str:
    return f"{member_id}:{sku_id}"  # a code proves this member's claim of this benefit, nothing else


def needs_second_factor(sku: BenefitSku) -> bool:
    """Whether claiming ``sku`` on the member's page needs an SMS code (its face value reaches the setting)."""
    threshold = benefit_fraud.second_factor_fen()
    return threshold > 0 and sku.face_value_fen >= threshold


def _second_factor(member_id: str, sku: BenefitSku, sms_code: str | None, required: bool) -> None:
    """Check the SMS code of a high-value claim (before any write: a wrong code keeps only its counted try)."""
    if not required or not needs_second_factor(sku):
        return
    if not sms_code or not sms_code.strip():
        raise BenefitSecondFactorRequired(sku_id=sku.id)
    one_time_codes.check_code(CLAIM_CODE, _claim_subject(member_id, sku.id), sms_code[:16])


@transactional
def send_claim_code(member_id: str, sku_id: str) -> int:
    """Text the member a one-time code for claiming ``sku_id`` (the older one stops working); the SMS id."""
    member = db.session.get(Member, member_id)
    if member is None or member.status != MemberStatus.ACTIVE:
        raise NotFound("No such member.")
    sku = get_sku(sku_id)
    code, expires_at = one_time_codes.issue_code(CLAIM_CODE, _claim_subject(member_id, sku.id))
    return queue_sms(
        decrypt_phone(member.phone_ciphertext),
        "benefit_claim_code",
        secret=code,
        secret_expires_at=expires_at,
        alliance=get_settings().name,
        sku=sku.name,
        minutes=one_time_codes.ttl_minutes(),
    ).id


# --- campaigns ---
CAMPAIGN_FIELDS = (
    "code",
    "name",
    "description",
    "sku_id",
    "starts_at",
    "ends_at",
    "total_budget",
    "per_member_limit",
    "min_level_rank",
    "region_code",
    "agent_id",
    "active_within_days",
)


@transactional
def create_campaign(actor, **fields) -> BenefitCampaign:
    """A campaign (a draft until activated): SKU, window, budgets and eligibility."""
    unknown = set(fields) - set(CAMPAIGN_FIELDS)
    if unknown:
        raise InvalidRequest("Unknown fields.", fields=sorted(unknown))
    get_sku(fields.get("sku_id") or "")
    if not fields.get("code") or not fields.get("name"):
        raise InvalidRequest("A campaign needs a code and a name.")
    if db.session.scalar(select(BenefitCampaign.id).where(BenefitCampaign.code == fields["code"])):
        raise Conflict("A campaign with this code exists.", field="code")
    if fields["starts_at"] >= fields["ends_at"]:
        raise InvalidRequest("The campaign must end after it starts.", field="ends_at")
    if not 1 <= fields.get("total_budget", 0) <= 1_000_000:
        raise InvalidRequest("The total budget is between 1 and 1000000.", field="total_budget")
    if not 1 <= (fields.get("per_member_limit") or 1) <= 100:
        raise InvalidRequest("The per-member limit is between 1 and 100.", field="per_member_limit")
    if fields.get("region_code") and db.session.get(Region, fields["region_code"]) is None:
        raise NotFound("No such region.")
    if fields.get("agent_id") and db.session.get(Agent, fields["agent_id"]) is None:
        raise NotFound("No such agent.")
    if fields.get("active_within_days") is not None and fields["active_within_days"] <= 0:
        raise InvalidRequest("Recent activity is counted in days (at least 1).", field="active_within_days")
    fields = {name: value for name, value in fields.items() if value not in ("", None)}
    fields.setdefault("per_member_limit", 1)
    campaign = BenefitCampaign(**fields, remaining=fields["total_budget"], created_by=actor.key)
    db.session.add(campaign)
    db.session.flush()
    audit(
        actor.key,
        "benefit_campaign.create",
        "benefit_campaign",
        campaign.id,
        code=campaign.code,
        budget=campaign.total_budget,
    )
    return campaign


@transactional
def set_campaign_status(actor, campaign_id: str, status: str) -> BenefitCampaign:
    """Activate a draft, or close a campaign for good."""
    campaign = get_campaign(campaign_id)
    allowed = {
        BenefitCampaignStatus.ACTIVE: {BenefitCampaignStatus.DRAFT},
        BenefitCampaignStatus.CLOSED: {BenefitCampaignStatus.DRAFT, BenefitCampaignStatus.ACTIVE},
    }
    if status not in allowed:
        raise InvalidRequest("A campaign is activated or closed.", field="status")
    if campaign.status not in allowed[status]:
        raise Conflict("The campaign cannot change to this status now.")
    before, campaign.status = campaign.status, status
    audit(
        actor.key,
        f"benefit_campaign.{'activate' if status == 'active' else 'close'}",
        "benefit_campaign",
        campaign.id,
        before=before,
    )
    return campaign


def get_campaign(campaign_id: str) -> BenefitCampaign:
    campaign = db.session.get(BenefitCampaign, campaign_id)
    if campaign is None:
        raise NotFound("No such campaign.")
    return campaign


def list_campaigns() -> list[BenefitCampaign]:
    return list(db.session.scalars(select(BenefitCampaign).order_by(BenefitCampaign.created_at.desc())))


def _region_path(code: str | None) -> tuple[str, ...]:
    path = []
    while code and code not in path:
        path.append(code)
        code = db.session.scalar(select(Region.parent_code).where(Region.code == code))
    return tuple(path)


def member_region_code(member: Member) -> str | None:
    """A member's home region: that of the merchant that recruited them, else of the merchant of their last sale."""
    if member.recruited_by_merchant_id:
        code = db.session.scalar(select(Merchant.region_code).where(Merchant.id == member.recruited_by_merchant_id))
        if code:
            return code
    return db.session.scalar(
        select(Merchant.region_code)
        .join(Sale, Sale.merchant_id == Merchant.id)
        .where(Sale.member_id == member.id)
        .order_by(Sale.occurred_at.desc())
        .limit(1)
    )


def _member_facts(member: Member) -> MemberFacts:
    return MemberFacts(
        level_rank=db.session.scalar(select(Level.rank).where(Level.id == member.level_id)),
        region_path=_region_path(member_region_code(member)),
        agent_id=member.recruited_by_agent_id,
        last_sale_at=db.session.scalar(select(func.max(Sale.occurred_at)).where(Sale.member_id == member.id)),
    )


def _rules(campaign: BenefitCampaign) -> CampaignRules:
    return CampaignRules(
        starts_at=campaign.starts_at,
        ends_at=campaign.ends_at,
        min_level_rank=campaign.min_level_rank,
        region_code=campaign.region_code,
        agent_id=campaign.agent_id,
        active_within_days=campaign.active_within_days,
    )


def campaign_of(campaign_id: str) -> BenefitCampaign | None:
    """A campaign by id (None if there is none)."""
    return db.session.get(BenefitCampaign, campaign_id[:40])


def _claimed(campaign_id: str, member_id: str) -> int:
    return db.session.scalar(
        select(func.count()).where(BenefitGrant.campaign_id == campaign_id, BenefitGrant.member_id == member_id)
    )


def campaigns_for_member(member_id: str, now: datetime | None = None) -> list[dict]:
    """The active campaigns in their window the member may claim, with how many they claimed and may still."""
    now = now or utcnow()
    member = db.session.get(Member, member_id)
    facts = _member_facts(member)
    rows = db.session.execute(
        select(BenefitCampaign, BenefitSku)
        .join(BenefitSku, BenefitSku.id == BenefitCampaign.sku_id)
        .where(
            BenefitCampaign.status == BenefitCampaignStatus.ACTIVE,
            BenefitCampaign.starts_at <= now,
            BenefitCampaign.ends_at > now,
        )
        .order_by(BenefitCampaign.ends_at)
    ).all()
    out = []
    for campaign, sku in rows:
        if campaign_refusal(_rules(campaign), facts, now) is not None:
            continue
        claimed = _claimed(campaign.id, member_id)
        out.append(
            {
                "campaign": campaign,
                "sku": sku,
                "claimed": claimed,
                "can_claim": claimed < campaign.per_member_limit and campaign.remaining > 0,
            }
        )
    return out


@transactional
def claim(
    member_id: str,
    campaign_id: str,
    now: datetime | None = None,
    *,
    origin: Mapping[str, str | None] | None = None,
    sms_code: str | None = None,
    second_factor: bool = False,
) -> BenefitGrant:
    """The member claims one of a campaign's benefits: eligibility, per-member limit, total budget, stock.

    ``origin``: the device and IP address the claim came from (their claim budgets apply with the member's);
    ``second_factor``: the claim comes from the member's page, so a high-value benefit needs ``sms_code``.
    """
    now = now or utcnow()
    member = db.session.get(Member, member_id)
    if member is None or member.status != MemberStatus.ACTIVE:
        raise NotFound("No such member.")
    campaign = db.session.get(BenefitCampaign, campaign_id)
    if campaign is None or campaign.status != BenefitCampaignStatus.ACTIVE:
        raise NotFound("No such campaign.")
    refusal = campaign_refusal(_rules(campaign), _member_facts(member), now)
    if refusal is not None:
        raise BenefitNotEligible(reason=refusal)
    if _claimed(campaign.id, member_id) >= campaign.per_member_limit:  # the common refusal, before any lock
        raise BenefitNotEligible("You have claimed all this campaign allows.", reason="member_limit")
    _second_factor(member_id, get_sku(campaign.sku_id), sms_code, second_factor)  # before any write
    # take one from the budget: the guarded UPDATE locks the campaign's row until this transaction ends, so
    # concurrent claims queue here and each sees the grants committed before it (PostgreSQL READ COMMITTED
    # re-reads ``remaining`` and the count below); a refusal after it rolls the budget back with everything
    taken = db.session.execute(
        update(BenefitCampaign)
        .where(
            BenefitCampaign.id == campaign.id,
            BenefitCampaign.remaining > 0,
            BenefitCampaign.status == BenefitCampaignStatus.ACTIVE,
        )
        .values(remaining=BenefitCampaign.remaining - 1)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:
        raise BenefitBudgetExhausted()
    claimed = _claimed(campaign.id, member_id)
    if claimed >= campaign.per_member_limit:
        raise BenefitNotEligible("You have claimed all this campaign allows.", reason="member_limit")
    source = f"{campaign.id}:{member_id}:{claimed + 1}"  # the n-th claim of a member: unique
    grant, new = _grant(
        C.CAMPAIGN,
        source,
        member_id,
        campaign.sku_id,
        f"member:{member_id}",
        campaign_id=campaign.id,
        origin=origin,
    )
    if not new:
        raise Conflict("This claim was just made; please refresh.")
    return grant


@transactional
def push_campaign(actor, campaign_id: str, now: datetime | None = None) -> dict:
    """Push an active campaign: give one of its benefits to every eligible active member who has none of it
    yet (members in id order), within the campaign's budget and the stock; run it again and those served
    are skipped. Each member's grant is the first claim's (the same source id), in a savepoint of its own:
    a member over their claim budget is skipped, the rest are served. Audited with the counts."""
    now = now or utcnow()
    campaign = db.session.get(BenefitCampaign, campaign_id)
    if campaign is None:
        raise NotFound("No such campaign.")
    if campaign.status != BenefitCampaignStatus.ACTIVE or not campaign.starts_at <= now < campaign.ends_at:
        raise Conflict("Only an active campaign in its window can be pushed.")
    rules = _rules(campaign)
    served = db.session.scalars(select(BenefitGrant.member_id).where(BenefitGrant.campaign_id == campaign.id))
    already = set(served)
    counts = {"pushed": 0, "already": len(already), "not_eligible": 0, "skipped": 0, "stopped": None}
    members = select(Member).where(Member.status == MemberStatus.ACTIVE).order_by(Member.id)
    for member in db.session.scalars(members):
        if member.id in already:
            continue
        if campaign_refusal(rules, _member_facts(member), now) is not None:
            counts["not_eligible"] += 1
            continue
        try:
            with db.session.begin_nested():
                taken = db.session.execute(
                    update(BenefitCampaign)
                    .where(BenefitCampaign.id == campaign.id, BenefitCampaign.remaining > 0)
                    .values(remaining=BenefitCampaign.remaining - 1)
                    .execution_options(synchronize_session=False)
                )
                if taken.rowcount != 1:
                    raise BenefitBudgetExhausted()
                _grant(
                    C.CAMPAIGN,
                    f"{campaign.id}:{member.id}:1",
                    member.id,
                    campaign.sku_id,
                    actor.key,
                    campaign_id=campaign.id,
                )
        except (BenefitBudgetExhausted, BenefitOutOfStock) as stop:
            counts["stopped"] = stop.code
            break
        except DomainError:  # this member's claim budget: the others are still served
            counts["skipped"] += 1
            continue
        counts["pushed"] += 1
    audit(actor.key, "benefit_campaign.push", "benefit_campaign", campaign.id, **counts)
    return counts


# --- batch grants ---
def read_member_list(filename: str, data: bytes) -> list[tuple[int, str]]:
    """(row number, phone) from a CSV or XLSX file: the column headed phone / 手机号 / mobile, else the first."""
    if filename.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).active
            rows = [
                ["" if cell is None else str(cell).strip() for cell in row] for row in sheet.iter_rows(values_only=True)
            ]
        except Exception as error:  # noqa: BLE001 - any unreadable workbook is the same refusal
            raise InvalidRequest("This file is not a readable XLSX workbook.", field="file") from error
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = data.decode("gb18030")
            except UnicodeDecodeError as error:
                raise InvalidRequest("This file is not readable text (UTF-8 or GB18030).", field="file") from error
        try:
            rows = [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(text))]
        except csv.Error as error:  # a NUL byte, a broken quote
            raise InvalidRequest("This file is not readable text (UTF-8 or GB18030).", field="file") from error
    rows = [row for row in rows if any(row)]
    if not rows:
        raise InvalidRequest("The file lists no members.", field="file")
    header = [cell.lower() for cell in rows[0]]
    column, start = 0, 0
    for name in ("phone", "手机号", "手机", "mobile"):
        if name in header:
            column, start = header.index(name), 1
            break
    listed = [
        (number + 1, row[column] if column < len(row) else "") for number, row in enumerate(rows) if number >= start
    ]
    if len(listed) > MAX_BATCH_ROWS:
        raise InvalidRequest("At most 20000 members in one batch.", field="file")
    return listed


def _plan_batch(sku: BenefitSku, listed: list[tuple[int, str]]) -> list[dict]:
    """Each row's outcome: ``grant`` with its member, or ``skip`` with the reason."""
    plan, seen = [], set()
    for row, phone in listed:
        entry = {"row": row, "phone_masked": "", "outcome": "skip", "reason": "", "member_id": None}
        try:
            mobile = normalize_mobile(phone)
        except DomainError:
            entry["reason"] = "bad_phone"
            plan.append(entry)
            continue
        entry["phone_masked"] = f"{mobile[:3]}****{mobile[-4:]}"
        member = db.session.scalar(select(Member).where(Member.phone_hash == phone_lookup_hash(mobile)))
        if member is None:
            entry["reason"] = "not_a_member"
        elif member.status != MemberStatus.ACTIVE:
            entry["reason"] = "member_not_active"
        elif member.id in seen:
            entry["reason"] = "duplicate"
        else:
            entry.update(outcome="grant", member_id=member.id)
            seen.add(member.id)
        plan.append(entry)
    return plan


def _available(sku_id: str) -> int:
    today = alliance_today()
    return db.session.scalar(
        select(func.count())
        .select_from(BenefitCode)
        .where(
            BenefitCode.sku_id == sku_id,
            BenefitCode.status == BenefitCodeStatus.AVAILABLE,
            (BenefitCode.expires_on.is_(None)) | (BenefitCode.expires_on >= today),
        )
    )


def _summary(sku: BenefitSku, plan: list[dict], dry_run: bool, batch: BenefitGrantBatch | None = None) -> dict:
    to_grant = sum(1 for entry in plan if entry["outcome"] == "grant")
    return {
        "batch_id": batch.id if batch else None,
        "sku_id": sku.id,
        "sku_code": sku.code,
        "dry_run": dry_run,
        "rows_total": len(plan),
        "granted": 0 if dry_run else to_grant,
        "to_grant": to_grant,
        "skipped": len(plan) - to_grant,
        "available": _available(sku.id) + (0 if dry_run else to_grant),
        "rows": [{key: entry[key] for key in ("row", "phone_masked", "outcome", "reason")} for entry in plan],
    }


def grant_batch_preview(sku_id: str, listed: list[tuple[int, str]]) -> dict:
    """The dry run: what a batch would grant and skip, row by row, and whether the stock covers it."""
    sku = get_sku(sku_id)
    return _summary(sku, _plan_batch(sku, listed), dry_run=True)


@transactional
def grant_batch(actor, sku_id: str, filename: str, data: bytes, dry_run: bool = False) -> dict:
    """Grant one code of the SKU to every listed member (one transaction), or only report it (``dry_run``).

    The same file for the same SKU again answers with the first batch's report (nothing granted twice).
    """
    sku = get_sku(sku_id)
    listed = read_member_list(filename, data)
    if dry_run:
        return grant_batch_preview(sku.id, listed)
    digest = hashlib.sha256(data).hexdigest()
    done = db.session.scalar(
        select(BenefitGrantBatch).where(BenefitGrantBatch.sku_id == sku.id, BenefitGrantBatch.file_sha256 == digest)
    )
    if done is not None:
        return batch_report(done.id)
    plan = _plan_batch(sku, listed)
    wanted = sum(1 for entry in plan if entry["outcome"] == "grant")
    if wanted > _available(sku.id):
        raise Conflict("Not enough codes in stock for this batch; nothing was granted.")
    batch = BenefitGrantBatch(sku_id=sku.id, filename=filename[:200], file_sha256=digest, created_by=actor.key)
    db.session.add(batch)
    db.session.flush()
    for entry in plan:
        if entry["outcome"] == "grant":
            _grant(
                C.BATCH, f"{batch.id}:{entry['member_id']}", entry["member_id"], sku.id, actor.key, batch_id=batch.id
            )
    summary = _summary(sku, plan, dry_run=False, batch=batch)
    batch.rows_total, batch.granted, batch.skipped, batch.report = (
        summary["rows_total"],
        summary["granted"],
        summary["skipped"],
        summary["rows"],
    )
    audit(actor.key, "benefit_batch.grant", "benefit_grant_batch", batch.id, sku=sku.code, granted=batch.granted)
    return summary


def batch_report(batch_id: str) -> dict:
    batch = db.session.get(BenefitGrantBatch, batch_id)
    if batch is None:
        raise NotFound("No such batch.")
    sku = db.session.get(BenefitSku, batch.sku_id)
    return {
        "batch_id": batch.id,
        "sku_id": sku.id,
        "sku_code": sku.code,
        "dry_run": False,
        "rows_total": batch.rows_total,
        "granted": batch.granted,
        "to_grant": batch.granted,
        "skipped": batch.skipped,
        "available": _available(sku.id),
        "rows": batch.report,
    }


def list_batches() -> list[BenefitGrantBatch]:
    return list(db.session.scalars(select(BenefitGrantBatch).order_by(BenefitGrantBatch.created_at.desc()).limit(200)))


def list_grants(member_id: str | None = None, channel: str | None = None, limit: int = 200) -> list[BenefitGrant]:
    query = select(BenefitGrant).order_by(BenefitGrant.created_at.desc()).limit(limit)
    if member_id:
        query = query.where(BenefitGrant.member_id == member_id)
    if channel:
        query = query.where(BenefitGrant.channel == channel)
    return list(db.session.scalars(query))


# --- partners ---
def _partner_purpose(key_id: str) -> bytes:
    return f"benefit-partner:{key_id}".encode()


@transactional
def create_partner(actor, name: str, sku_ids: list[str]) -> tuple[BenefitPartner, str]:
    """A partner with a new key id and secret; the secret is shown once (stored sealed)."""
    if not name or not name.strip():
        raise InvalidRequest("Name the partner.", field="name")
    if db.session.scalar(select(BenefitPartner.id).where(BenefitPartner.name == name.strip())):
        raise Conflict("A partner with this name exists.", field="name")
    for sku_id in sku_ids:
        get_sku(sku_id)
    key_id, secret = f"pk_{secrets.token_hex(8)}", secrets.token_urlsafe(32)
    partner = BenefitPartner(
        name=name.strip(),
        key_id=key_id,
        sealed_secret=encrypt_text(secret, _partner_purpose(key_id)),
        sku_ids=list(sku_ids),
        created_by=actor.key,
    )
    db.session.add(partner)
    db.session.flush()
    audit(actor.key, "benefit_partner.create", "benefit_partner", partner.id, key_id=key_id)
    return partner, secret


def _verified_partner(headers: dict, method: str, path: str, body: bytes, now: datetime) -> BenefitPartner:
    key_id, timestamp = headers.get("key_id", ""), headers.get("timestamp", "")
    nonce, signature = headers.get("nonce", ""), headers.get("signature", "")
    partner = db.session.scalar(select(BenefitPartner).where(BenefitPartner.key_id == key_id)) if key_id else None
    if partner is None or partner.status != BenefitPartnerStatus.ACTIVE:
        raise PartnerSignatureInvalid()
    if not partner_request_fresh(timestamp, now) or not 8 <= len(nonce) <= 64:
        raise PartnerSignatureInvalid()
    secret = decrypt_text(partner.sealed_secret, _partner_purpose(partner.key_id))
    if not signature_matches(partner_signature(secret, method, path, timestamp, nonce, body), signature):
        raise PartnerSignatureInvalid()
    try:
        with db.session.begin_nested():
            db.session.add(BenefitPartnerNonce(partner_id=partner.id, nonce=nonce, seen_at=now))
    except IntegrityError as error:
        raise PartnerSignatureInvalid() from error
    return partner


@transactional
def partner_grant(
    headers: dict,
    method: str,
    path: str,
    body: bytes,
    payload: dict,
    now: datetime | None = None,
    ip: str | None = None,
):
    """A partner's signed grant: verify the signature, keep the nonce, grant once per partner request id.

    The member's claim budget applies, and that of the partner's IP address (``ip``)."""
    now = now or utcnow()
    partner = _verified_partner(headers, method, path, body, now)
    sku_id, request_id = payload["sku_id"], payload["request_id"]
    if sku_id not in partner.sku_ids:
        raise BenefitNotEligible("This partner may not grant this benefit.", reason="partner_sku")
    mobile = normalize_mobile(payload["phone"])
    member = db.session.scalar(select(Member).where(Member.phone_hash == phone_lookup_hash(mobile)))
    if member is None or member.status != MemberStatus.ACTIVE:
        raise NotFound("No member has this phone number.", field="phone")
    grant, new = _grant(
        C.PARTNER,
        f"{partner.id}:{request_id}",
        member.id,
        sku_id,
        f"partner:{partner.key_id}",
        partner_id=partner.id,
        origin={budget_rules.IP: ip},
    )
    if new:
        audit(f"partner:{partner.key_id}", "benefit.partner_grant", "benefit_grant", grant.id, request_id=request_id)
    return {
        "grant_id": grant.id,
        "request_id": request_id,
        "sku_id": sku_id,
        "member_masked_phone": member.phone_masked,
        "created_at": grant.created_at,
    }


def purge_partner_nonces(now: datetime | None = None) -> int:
    """Nonces older than twice the clock skew can no longer be replayed (the timestamp check refuses them)."""
    cutoff = (now or utcnow()) - timedelta(hours=1)
    result = db.session.execute(BenefitPartnerNonce.__table__.delete().where(BenefitPartnerNonce.seen_at < cutoff))
    return result.rowcount


# --- reminders ---
@transactional
def notify_expiring_benefits(today: date) -> dict:
    """The ``notify-benefits-expiring`` job: one SMS per member whose codes expire within N days (the setting),
    once per code (``expiry_notified_on``), so a missed day is caught up and a re-run texts nobody twice."""
    settings = get_settings()
    days = settings.benefit_expiry_notice_days
    if days <= 0:
        return {"members": 0, "codes": 0}
    rows = db.session.execute(
        select(BenefitCode.id, BenefitCode.member_id, BenefitCode.expires_on, BenefitSku.name, Member.phone_ciphertext)
        .join(BenefitSku, BenefitSku.id == BenefitCode.sku_id)
        .join(Member, Member.id == BenefitCode.member_id)
        .where(
            BenefitCode.status == BenefitCodeStatus.ISSUED,
            BenefitCode.expiry_notified_on.is_(None),
            BenefitCode.expires_on >= today,
            BenefitCode.expires_on <= today + timedelta(days=days),
            Member.status == MemberStatus.ACTIVE,
        )
        .order_by(BenefitCode.member_id, BenefitCode.expires_on, BenefitSku.name)
    ).all()
    by_member: dict[str, list] = {}
    for row in rows:
        by_member.setdefault(row.member_id, []).append(row)
    for held in by_member.values():
        queue_sms(
            decrypt_phone(held[0].phone_ciphertext),
            "benefit_expiring",
            alliance=settings.name,
            count=len(held),
            sku=held[0].name,
            date=held[0].expires_on.strftime("%Y年%m月%d日"),
        )
    if rows:
        db.session.execute(
            update(BenefitCode)
            .where(BenefitCode.id.in_([row.id for row in rows]), BenefitCode.expiry_notified_on.is_(None))
            .values(expiry_notified_on=today)
            .execution_options(synchronize_session=False)
        )
    return {"members": len(by_member), "codes": len(rows)}


def level_choices() -> list[tuple[str, str]]:
    """(rank, name) of the member levels, lowest first (a campaign's lowest level)."""
    return [(str(rank), name) for rank, name in db.session.execute(select(Level.rank, Level.name).order_by(Level.rank))]


def agent_choices() -> list[tuple[str, str]]:
    """(id, name) of the agents (a campaign for the members one agent recruited)."""
    return [
        (agent_id, name) for agent_id, name in db.session.execute(select(Agent.id, Agent.name).order_by(Agent.name))
    ]


def sku_by_code(code: str) -> BenefitSku:
    """A SKU by its code (the CLI names SKUs by code)."""
    sku = db.session.scalar(select(BenefitSku).where(BenefitSku.code == code))
    if sku is None:
        raise NotFound("No such benefit.")
    return sku


def verified_partner(headers: dict, method: str, path: str, body: bytes, now: datetime) -> BenefitPartner:
    """The active partner whose key signed this request freshly (its nonce now kept); else
    ``PartnerSignatureInvalid`` — one answer for every failure (also used by suppliers' redemption callbacks)."""
    return _verified_partner(headers, method, path, body, now)
