"""The alliance's settings row and its own ledger accounts."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from server.domain.errors import Conflict, InvalidRequest
from server.domain.identifiers import check_member_code_prefix
from server.domain.ledger import ALLIANCE_ADJUSTMENTS, ALLIANCE_EXPIRY
from server.extensions import db
from server.models import ALLIANCE_OWNER, AllianceSettings
from server.services import worker_copies
from server.services.audit import audit, values_before
from server.services.ledger import open_account
from server.services.unit_of_work import transactional


def get_settings() -> AllianceSettings:
    """The alliance settings (created by :func:`ensure_alliance`)."""
    settings = db.session.get(AllianceSettings, 1)
    if settings is None:
        raise RuntimeError("the alliance is not set up: run `alliance-server seed-demo` or `create-admin`")
    return settings


def current_settings() -> AllianceSettings:
    """The alliance settings to read on the hot path (identify, the sale): the worker's copy while current.

    A change committed anywhere applies to the next transaction in every worker
    (``server/services/worker_copies.py``). It is a detached copy, never to be changed (use
    :func:`get_settings` for that); counters kept in the row (``card_serial_seq``) are read from the row by
    the code that moves them.
    """
    return worker_copies.copied(SETTINGS_COPY, 1, _settings_copy)


SETTINGS_COPY = worker_copies.PREFIX + "alliance_settings"


def _settings_copy() -> AllianceSettings:
    settings = get_settings()
    return AllianceSettings(**{column.key: getattr(settings, column.key) for column in _SETTINGS_COLUMNS})


_SETTINGS_COLUMNS = AllianceSettings.__mapper__.column_attrs


@transactional
def ensure_alliance() -> AllianceSettings:
    """Create the alliance settings from configuration and its ledger accounts, once."""
    settings = db.session.get(AllianceSettings, 1)
    if settings is not None:
        return settings
    config = current_app.config
    settings = AllianceSettings(
        id=1,
        name=config["ALLIANCE_NAME"],
        member_code_prefix=check_member_code_prefix(config["MEMBER_CODE_PREFIX"]),
        card_number_prefix=config["CARD_NUMBER_PREFIX"],
        point_value_fen=config["POINT_VALUE_FEN"],
        timezone=config["ALLIANCE_TIMEZONE"],
    )
    db.session.add(settings)
    for kind in (ALLIANCE_ADJUSTMENTS, ALLIANCE_EXPIRY):
        open_account(kind, ALLIANCE_OWNER)
    return settings


POINTS_POLICY_FIELDS = {
    "points_expiry_policy",
    "points_expiry_months",
    "expiry_notice_days",
    "business_day_cutoff_hour",
    "spend_requires_proof",  # the till policy: spending points needs the member's proof
    "invite_reward_points_per_yuan",  # member invitations: rewarded on the friend's consumption only
    "invite_reward_days",
}


@transactional
def update_points_policy(actor: str, **fields) -> AllianceSettings:
    """Change the points expiry policy, the notice period, the business day's cut-off hour or the till policy.

    A new expiry policy applies to points earned from now on (existing lots keep their dates). The
    cut-off hour cannot change once a day has been closed: the next day would overlap or leave a gap.
    """
    from server.domain.lots import EXPIRY_POLICIES
    from server.models import SettlementDay

    settings = get_settings()
    if fields.get("points_expiry_policy", settings.points_expiry_policy) not in EXPIRY_POLICIES:
        raise InvalidRequest("Unknown expiry policy.", field="points_expiry_policy", allowed=list(EXPIRY_POLICIES))
    cutoff = fields.get("business_day_cutoff_hour")
    changes_cutoff = cutoff is not None and cutoff != settings.business_day_cutoff_hour
    if changes_cutoff and db.session.scalar(select(SettlementDay.business_day).limit(1)) is not None:
        raise Conflict("The business day's cut-off hour cannot change once days have been closed.")
    before = values_before(settings, fields)
    for name, value in fields.items():
        if name in POINTS_POLICY_FIELDS:
            setattr(settings, name, value)
    audit(actor, "alliance.update", "alliance", "1", **fields, before=before)
    return settings


SETTINGS_LIMITS = {  # what operators may change after set-up, with sane ranges; prefixes stay fixed once cards exist
    "name": None,
    "point_value_fen": (1, 10_000),
    "level_window_days": (1, 3_650),
    "offline_max_sale_fen": (0, 100_000_000),
    "offline_max_sales_per_shift": (0, 10_000),
    "offline_max_age_hours": (1, 168),
}


@transactional
def update_settings(actor: str, **fields) -> AllianceSettings:
    """Change the alliance's name, point value, level window or offline caps; audited."""
    settings = get_settings()
    changed, before = {}, {}
    for name, value in fields.items():
        if name not in SETTINGS_LIMITS:
            raise InvalidRequest("This setting cannot be changed.", field=name)
        limits = SETTINGS_LIMITS[name]
        if limits is None:
            value = str(value).strip()
            if not 1 <= len(value) <= 100:
                raise InvalidRequest("The name needs 1 to 100 characters.", field=name)
        elif isinstance(value, bool) or not isinstance(value, int) or not limits[0] <= value <= limits[1]:
            raise InvalidRequest("The value is out of range.", field=name, min=limits[0], max=limits[1])
        if getattr(settings, name) != value:
            changed[name], before[name] = value, getattr(settings, name)
            setattr(settings, name, value)
    if changed:
        audit(actor, "alliance.update", "alliance", "1", **changed, before=before)
    return settings
