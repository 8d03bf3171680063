"""The alliance's settings row and its own ledger accounts."""

from __future__ import annotations

from flask import current_app

from server.domain.identifiers import check_member_code_prefix
from server.domain.ledger import ALLIANCE_ADJUSTMENTS, ALLIANCE_EXPIRY
from server.extensions import db
from server.models import ALLIANCE_OWNER, AllianceSettings
from server.services.ledger import open_account
from server.services.unit_of_work import transactional


def get_settings() -> AllianceSettings:
    """The alliance settings (created by :func:`ensure_alliance`)."""
    settings = db.session.get(AllianceSettings, 1)
    if settings is None:
        raise RuntimeError("the alliance is not set up: run `alliance-server seed-demo` or `create-admin`")
    return settings


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
