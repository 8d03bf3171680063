"""Pure rules of benefit distribution: cash-like benefits, campaign eligibility, birthdays, partner signatures."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from server.domain.benefit_channels import (
    CampaignRules,
    MemberFacts,
    birthday_key,
    campaign_refusal,
    is_cash_like,
    normalize_birthday,
    partner_request_fresh,
    partner_signature,
    signature_matches,
)

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
RULES = CampaignRules(
    starts_at=NOW - timedelta(days=1),
    ends_at=NOW + timedelta(days=1),
    min_level_rank=1,
    region_code="440300",
    agent_id="agt_1",
    active_within_days=30,
)
FIT = MemberFacts(level_rank=2, region_path=("440305", "440300", "440000"), agent_id="agt_1", last_sale_at=NOW)


def test_only_third_party_codes_and_cash_vouchers_are_cash_like():
    assert is_cash_like("third_party_code") and is_cash_like("voucher_cash")
    assert not any(is_cash_like(kind) for kind in ("voucher_threshold", "voucher_percent", "voucher_item"))


@pytest.mark.parametrize(
    ("change", "now", "reason"),
    [
        ({}, NOW, None),
        ({}, NOW - timedelta(days=2), "not_started"),
        ({}, NOW + timedelta(days=1), "ended"),
        ({"level_rank": 0}, NOW, "level"),
        ({"region_path": ("110105", "110100", "110000")}, NOW, "region"),
        ({"agent_id": None}, NOW, "agent"),
        ({"last_sale_at": NOW - timedelta(days=31)}, NOW, "inactive"),
        ({"last_sale_at": None}, NOW, "inactive"),
    ],
)
def test_campaign_eligibility_names_the_first_rule_a_member_fails(change, now, reason):
    facts = MemberFacts(**{**FIT.__dict__, **change})
    assert campaign_refusal(RULES, facts, now) == reason


def test_birthdays_and_29_february():
    assert normalize_birthday("1990-02-29") == "02-29" and normalize_birthday("3/5") == "03-05"
    assert normalize_birthday("") is None
    for bad in ("13-01", "02-30", "abc", "1-2-3-4"):
        with pytest.raises(ValueError):
            normalize_birthday(bad)
    assert birthday_key(date(2027, 2, 28)) == ["02-28", "02-29"]
    assert birthday_key(date(2028, 2, 28)) == ["02-28"]


def test_a_partner_signature_covers_method_path_time_nonce_and_body():
    args = ("secret", "POST", "/api/v1/partner/benefit-grants", "1765015200", "nonce-1234", b'{"a":1}')
    signed = partner_signature(*args)
    assert signature_matches(signed, signed.upper())
    for index, other in ((0, "other"), (3, "1765015201"), (4, "nonce-1235"), (5, b'{"a":2}')):
        changed = list(args)
        changed[index] = other
        assert not signature_matches(partner_signature(*changed), signed)
    assert partner_request_fresh("1765015200", datetime.fromtimestamp(1765015200 + 299, UTC))
    assert not partner_request_fresh("1765015200", datetime.fromtimestamp(1765015200 + 301, UTC))
    assert not partner_request_fresh("-5", NOW) and not partner_request_fresh("", NOW)
