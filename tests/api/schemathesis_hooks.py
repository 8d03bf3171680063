"""Schemathesis hooks for tests/api/test_schemathesis.py (loaded by the CLI through its config file).

JSON Schema cannot state every rule the document gives in words. These hooks make generated data follow
the rules the operation descriptions state, turning valid values into other valid values only (an invalid
value is left as it is), so that the positive_data_acceptance check tests everything else strictly:

- a card number's last digit is its Luhn check digit (the ``card-number`` format);
- every state-changing POST is a new operation with a new ``Idempotency-Key`` (a reused key with another
  body is refused by design, docs/terminal-api.md);
- a day range has ``day_from`` <= ``day_to``; settlements take both or neither, at most 92 days apart;
- a month range (benefit retention) has ``month_from`` <= ``month_to``;
- a level's discounts satisfy 0 < min <= default <= max <= 10000, and keep_spend <= upgrade_spend;
- an agent's contract starts before it ends and names each territory once;
- a benefit campaign ends after it starts.
- a new staff user's password passes the stated policy (not a common password, not one character
  repeated, not containing the username: server.domain.passwords).

TOLERATED_REFUSALS lists the few refusals of well-formed requests that depend on stored state or on signed
data no generator can make; each names its reason and is matched by its English message (every request
asks for English: the API answers in Chinese by default). TOLERATED_TEXT_FAULTS are the reasons text is
refused whatever the field (server/request_input.py; tests/api/test_bad_input.py proves each over every
endpoint): JSON Schema in OpenAPI 3.0 cannot state them for every string and key, so generated text may
hold them, and the run still checks that such input never gets a 5xx. Any other refusal of a
documented-valid request fails.
"""

from __future__ import annotations

import itertools
import os
import re
from datetime import date, datetime, timedelta

import schemathesis
from hypothesis import strategies as st

from server.domain.identifiers import luhn_check_digit
from server.domain.passwords import password_problem

MAX_SETTLEMENT_DAYS = 92  # server.services.settlement.MAX_LISTED_DAYS

schemathesis.openapi.format(
    "card-number",
    st.from_regex(r"\A[0-9]{15}\Z").map(lambda digits: digits + luhn_check_digit(digits)),
)

_keys = itertools.count(1)
IDEMPOTENCY_KEY = re.compile(r"^[ -~]{1,255}$")  # server.api.idempotent


# Bad-input classes that still get 5xx (or, for card batches of up to 200,000 cards, time out) until branch
# api-input is merged; the test probes for each and names the open ones, so the run reports every other fault.
OPEN_5XX_CLASSES = set(filter(None, os.environ.get("SCHEMATHESIS_OPEN_5XX_CLASSES", "").split(",")))
DATABASE_INT_MAX = 2**31 - 1
HUGE_BATCH = 1_000

# Refusals of documented-valid requests that depend on stored state, or on data no generator can make:
# (method, path, error code, message or None for any) -> why a well-formed request may be refused so.
_OFFLINE_SALE = ("POST", "/api/v1/sales")
_IDENTIFY = ("POST", "/api/v1/identify")
OFFLINE_LIMITS = "offline limits are the alliance's settings (GET /terminal offline_limits), and time passes"
SIGNED_CODE = "a member code is signed and valid for minutes, a card number carries a Luhn check digit"
TOLERATED_REFUSALS = {
    (
        "PUT",
        "/api/v1/merchants/{merchant_id}/level-discounts/{level_id}",
        "invalid_request",
        "The discount is outside the bounds the operator set for this level.",
    ): "the discount must lie within the bounds the operator set on the level (stored state)",
    (*_OFFLINE_SALE, "invalid_request", "The offline sale exceeds the per-sale cap."): OFFLINE_LIMITS,
    (*_OFFLINE_SALE, "invalid_request", "The offline sale is older than the terminal may keep it, or in the future."): (
        OFFLINE_LIMITS
    ),
    (*_OFFLINE_SALE, "card_invalid", None): "an offline card read must carry a record signed by the alliance",
    (*_OFFLINE_SALE, "code_invalid", None): SIGNED_CODE,
    (*_OFFLINE_SALE, "code_expired", None): SIGNED_CODE,
    (*_IDENTIFY, "card_invalid", None): "a card read must carry a record signed by the alliance",
    (*_IDENTIFY, "code_invalid", None): SIGNED_CODE,
    (*_IDENTIFY, "code_expired", None): SIGNED_CODE,
    ("POST", "/api/v1/card-batches", "invalid_request", "Unknown level."): "names a level that does not exist",
    **{
        ("POST", "/api/v1/card-batches/{batch_id}/consignments", "invalid_request", message): reason
        for message, reason in (
            ("The card number is not in this batch.", "a batch's number range is stored state"),
            ("The range holds no card of this batch.", "a batch's number range is stored state"),
            ("The first card number is after the last.", "an order between two strings JSON Schema cannot state"),
        )
    },
    ("POST", "/api/v1/members", "invalid_request", "No such merchant."): "names a merchant that does not exist",
    ("POST", "/api/v1/staff", "invalid_request", "No such merchant."): "names a merchant that does not exist",
    (
        "PATCH",
        "/api/v1/merchants/{merchant_id}",
        "invalid_request",
        "Set the supervisor PIN that authorises refunds above the threshold.",
    ): "a threshold alone relies on the PIN stored before, and removing the PIN on the threshold stored before",
}
# The agent network (docs/agents.md): references to stored agents and regions, and rules on stored state.
_NO_AGENT = "names an agent that does not exist"
_REGION = "names a region code that is not one of the loaded GB/T 2260 divisions (GET /regions)"
for _method in ("POST", "PATCH"):
    _merchant_path = "/api/v1/merchants" if _method == "POST" else "/api/v1/merchants/{merchant_id}"
    _agent_path = "/api/v1/agents" if _method == "POST" else "/api/v1/agents/{agent_id}"
    TOLERATED_REFUSALS[(_method, _merchant_path, "invalid_request", "No such agent.")] = _NO_AGENT
    TOLERATED_REFUSALS[(_method, _merchant_path, "invalid_request", "Unknown region code.")] = _REGION
    TOLERATED_REFUSALS[(_method, _agent_path, "invalid_request", "Unknown region code.")] = _REGION
    TOLERATED_REFUSALS[
        (_method, _agent_path, "invalid_request", "This agent's level does not grant exclusive territories.")
    ] = "an exclusive territory needs a level granting exclusivity (stored state)"
TOLERATED_REFUSALS[("PATCH", "/api/v1/agents/{agent_id}", "invalid_request", "The contract ends before it starts.")] = (
    "one contract date sent alone is compared with the other one stored"
)
# Anti-brushing, complaints and violations (docs/agents.md): references to stored rows, rules across fields.
for _path, _field in (
    ("/api/v1/complaints", "merchant"),
    ("/api/v1/complaints", "agent"),
    ("/api/v1/agent-violations", "agent"),
):
    TOLERATED_REFUSALS[("POST", _path, "invalid_request", f"No such {_field}.")] = (
        f"names a {_field} that does not exist"
    )
TOLERATED_REFUSALS[
    ("POST", "/api/v1/complaints", "invalid_request", "A complaint is against a merchant or an agent.")
] = "one of merchant_id and agent_id is needed (a rule across fields)"
TOLERATED_REFUSALS[("PATCH", "/api/v1/complaints/{complaint_id}", "invalid_request", "An answer needs its text.")] = (
    "an answer carries its response (a rule across fields)"
)
for _message in ("This rule has no such parameter.", "A rule parameter is a whole number within its range."):
    TOLERATED_REFUSALS[("PATCH", "/api/v1/brushing-rules/{rule_id}", "invalid_request", _message)] = (
        "a rule's parameter names and ranges depend on its stored kind"
    )
# Benefits (docs/benefits.md): each kind of SKU needs its own terms (rules across fields the service names),
# codes and names are unique, purchases and imports name stored rows, an uploaded file must be a code list.
_BENEFIT_SKUS, _PURCHASES = "/api/v1/benefit-skus", "/api/v1/benefit-purchases"
_IMPORTS = "/api/v1/benefit-purchases/{purchase_id}/imports"
for _path, _code, _why in (
    (_BENEFIT_SKUS, "invalid_request", "a kind's terms, funder, validity and scope lists are rules across fields"),
    (_BENEFIT_SKUS, "conflict", "a SKU code is unique (stored state)"),
    (_BENEFIT_SKUS, "not_found", "names a merchant, region or agent level that does not exist"),
    ("/api/v1/suppliers", "conflict", "a supplier name is unique (stored state)"),
    (_PURCHASES, "invalid_request", "a source fits its SKU's kind; a generated purchase has no supplier"),
    (_PURCHASES, "not_found", "names a SKU or supplier that does not exist"),
    (_PURCHASES, "conflict", "the SKU or supplier is retired or suspended (stored state)"),
    (_IMPORTS, "not_found", "names a purchase that does not exist"),
    (_IMPORTS, "conflict", "the purchase is received, cancelled or generated (stored state)"),
    (_IMPORTS, "invalid_request", "the file must be CSV or XLSX text of codes (its content is not in the schema)"),
):
    TOLERATED_REFUSALS[("POST", _path, _code, None)] = _why
# Supplier reconciliation: the supplier is a stored row.
TOLERATED_REFUSALS[("GET", "/api/v1/supplier-reconciliations", "not_found", None)] = (
    "names a supplier that does not exist"
)
# Commissions (docs/agents.md): the policy's rules across fields and on stored state.
for _message, _reason in (
    (
        "Management commission can be switched on only with an explicit acknowledgement of the risk.",
        "switching management commission on needs an acknowledgement (a rule across fields and the stored policy)",
    ),
    ("No such merchant.", "a merchant override names a merchant that does not exist"),
    ("A policy change needs a reason.", "a reason of blanks only is no reason"),
):
    TOLERATED_REFUSALS[("PUT", "/api/v1/commission-policy", "invalid_request", _message)] = _reason

# Withdrawals and the bonus pool (docs/agents.md): money an agent holds, lifecycles, payee rules per channel.
TOLERATED_REFUSALS[("POST", "/api/v1/withdrawals", "invalid_request", "No such agent.")] = _NO_AGENT
TOLERATED_REFUSALS[("POST", "/api/v1/withdrawals", "withdrawal_refused", None)] = (
    "a withdrawal depends on the agent's stored balance, debt and the day's earlier withdrawals"
)
for _message in (
    "Enter the payee's real name.",
    "A bank account number is 8 to 32 digits.",
    "Enter the bank's name.",
    "A WeChat openid is 6 to 64 letters, digits, - or _.",
):
    TOLERATED_REFUSALS[("POST", "/api/v1/withdrawals", "invalid_request", _message)] = (
        "the payee's account format depends on the channel chosen (a rule across fields; blanks are trimmed)"
    )
for _action in ("approve", "reject"):
    TOLERATED_REFUSALS[("POST", f"/api/v1/withdrawals/{{withdrawal_id}}/{_action}", "conflict", None)] = (
        "a withdrawal is decided once, from its stored state"
    )
TOLERATED_REFUSALS[("POST", "/api/v1/bonus-pools/{period}/distribution", "conflict", None)] = (
    "a period is distributed after it ended, reversed before it is paid, paid once (stored state and the clock)"
)
# Benefit distribution: campaigns and batches name stored SKUs and rows; partner grants are signed.
for _method, _path, _code, _why in (
    ("POST", "/api/v1/benefit-campaigns", "not_found", "names a SKU, region or agent that does not exist"),
    ("POST", "/api/v1/benefit-campaigns", "conflict", "a campaign code is unique (stored state)"),
    ("PATCH", "/api/v1/benefit-campaigns/{campaign_id}", "not_found", "names a campaign that does not exist"),
    ("PATCH", "/api/v1/benefit-campaigns/{campaign_id}", "conflict", "a closed campaign stays closed (stored state)"),
    ("POST", "/api/v1/benefit-grant-batches", "not_found", "names a SKU that does not exist"),
    ("POST", "/api/v1/benefit-grant-batches", "invalid_request", "the file must be a CSV or XLSX list of phones"),
    ("POST", "/api/v1/benefit-grant-batches", "conflict", "the stock must cover the batch (stored state)"),
    ("POST", "/api/v1/partner/benefit-grants", "partner_signature_invalid", "a signature no generator can make"),
    ("POST", "/api/v1/partner/benefit-redemptions", "partner_signature_invalid", "a signature no generator can make"),
    ("POST", "/api/v1/merchants/{merchant_id}/gift-rules", "not_found", "names a merchant or SKU that does not exist"),
    ("POST", "/api/v1/merchants/{merchant_id}/gift-rules", "invalid_request", "the SKU must be an active voucher"),
    ("PATCH", "/api/v1/merchants/{merchant_id}/gift-rules/{rule_id}", "not_found", "names a rule that does not exist"),
    (
        "PATCH",
        "/api/v1/merchants/{merchant_id}/gift-rules/{rule_id}",
        "invalid_request",
        "a change is checked against the rule's stored window and SKU",
    ),
):
    TOLERATED_REFUSALS[(_method, _path, _code, None)] = _why
for _message, _reason in (
    (
        "These withdrawal settings do not fit together.",
        "the minimum must not exceed the daily maximum: one of them sent alone is compared with the other stored",
    ),
    ("A policy change needs a reason.", "a reason of blanks only is no reason"),
):
    TOLERATED_REFUSALS[("PUT", "/api/v1/payout-policy", "invalid_request", _message)] = _reason
# server.request_input.TEXT_MESSAGES: NUL and lone surrogates are refused in any text, wherever it is sent
TOLERATED_TEXT_FAULTS = {"nul_character", "lone_surrogate"}


def _day(value) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _ordered_days(query: dict, path: str) -> None:
    first, last = _day(query.get("day_from")), _day(query.get("day_to"))
    if first is not None and last is not None and first > last:
        first, last = last, first
    if path.endswith("/settlements"):
        if (first is None) != (last is None):
            first = last = first or last
        if first is not None and (last - first).days >= MAX_SETTLEMENT_DAYS:
            last = first + timedelta(days=MAX_SETTLEMENT_DAYS - 1) if first < date(9999, 1, 1) else first
    if first is not None:
        query["day_from"] = first.isoformat()
    if last is not None:
        query["day_to"] = last.isoformat()


def _whole_level_rules(body: dict) -> None:
    """A PATCH touching discounts or spend thresholds sends the whole consistent set (not relying on stored values)."""
    discounts = ("min_discount_bp", "default_discount_bp", "max_discount_bp")
    if any(name in body for name in discounts):
        values = sorted(min(10_000, max(1, body.get(name, 9_000))) for name in discounts)
        body.update(zip(discounts, values, strict=True))
    spends = ("keep_spend_fen", "upgrade_spend_fen")
    if any(name in body for name in spends):
        values = sorted(body.get(name, 0) for name in spends)
        body.update(zip(spends, values, strict=True))


def _consistent_agent(body: dict) -> None:
    """An agent's contract starts before it ends, and names each territory's region once."""
    start, end = _day(body.get("contract_start")), _day(body.get("contract_end"))
    if start is not None and end is not None and start > end:
        body["contract_start"], body["contract_end"] = end.isoformat(), start.isoformat()
    territories = body.get("territories")
    if isinstance(territories, list) and all(isinstance(item, dict) for item in territories):
        codes = [item.get("region_code") for item in territories]
        if all(isinstance(code, str) for code in codes):  # valid data only: the rest is left as it is
            body["territories"] = [item for index, item in enumerate(territories) if codes.index(codes[index]) == index]


def _campaign_window(body: dict) -> None:
    """A campaign ends after it starts (both aware ISO date-times)."""
    try:
        starts, ends = datetime.fromisoformat(body["starts_at"]), datetime.fromisoformat(body["ends_at"])
    except (KeyError, TypeError, ValueError):
        return
    if starts.tzinfo is None or ends.tzinfo is None or starts < ends:
        return
    starts, ends = ends, starts
    if starts == ends:
        try:
            ends = starts + timedelta(days=1)
        except OverflowError:
            starts = ends - timedelta(days=1)
    body["starts_at"], body["ends_at"] = starts.isoformat(), ends.isoformat()


def _password_by_the_policy(body: dict) -> None:
    """A password of valid length that the policy refuses (common, one character, the username) becomes one
    it accepts."""
    password, username = body["password"], body.get("username")
    if 10 <= len(password) <= 200 and isinstance(username, str) and password_problem(password, username):
        # two passphrases with no three characters in common: a username can be in at most one of them
        body["password"] = next(
            candidate
            for candidate in ("Kx7 policy-proof passphrase", "WZ=+ 24680 ~UJV")
            if password_problem(candidate, username) is None
        )


def _clamp_huge_integers(case) -> None:
    for parameters in (case.query, case.path_parameters):
        for name, value in (parameters or {}).items():
            if isinstance(value, int) and not isinstance(value, bool) and abs(value) > DATABASE_INT_MAX:
                parameters[name] = DATABASE_INT_MAX // 2**10
            elif isinstance(value, str) and value.isascii() and value.isdigit() and int(value) > DATABASE_INT_MAX:
                parameters[name] = str(DATABASE_INT_MAX // 2**10)


@schemathesis.hook
def before_call(context, case, kwargs):
    # Applied to negative cases too: a case generated as negative may turn out valid, and is then judged
    # as valid; these edits only ever turn valid values into other valid values.
    case.headers = {**(case.headers or {}), "Accept-Language": "en"}  # TOLERATED_REFUSALS name English messages
    key = case.headers.get("Idempotency-Key")
    if isinstance(key, str) and IDEMPOTENCY_KEY.match(key):
        case.headers["Idempotency-Key"] = f"schemathesis-{next(_keys)}"
    if isinstance(case.query, dict) and ("day_from" in case.query or "day_to" in case.query):
        _ordered_days(case.query, case.operation.path)
    if isinstance(case.query, dict) and all(
        isinstance(case.query.get(name), str) for name in ("month_from", "month_to")
    ):
        case.query["month_from"], case.query["month_to"] = sorted((case.query["month_from"], case.query["month_to"]))
    body = case.body if isinstance(case.body, dict) else {}
    numbers = [value for name, value in body.items() if name.endswith(("_bp", "_fen"))]
    if case.operation.path.startswith("/api/v1/levels") and all(type(value) is int for value in numbers):
        _whole_level_rules(body)
    if case.operation.path.startswith("/api/v1/agents"):
        _consistent_agent(body)
    if case.operation.path == "/api/v1/benefit-campaigns":
        _campaign_window(body)
    if case.operation.path == "/api/v1/staff" and isinstance(body.get("password"), str):
        _password_by_the_policy(body)
    if "huge_integers" in OPEN_5XX_CLASSES:
        _clamp_huge_integers(case)
    huge_batch = type(body.get("count")) is int and body["count"] > HUGE_BATCH
    if "huge_batches" in OPEN_5XX_CLASSES and case.operation.path == "/api/v1/card-batches" and huge_batch:
        body["count"] = HUGE_BATCH


@schemathesis.hook
def filter_failure(context, failure, case, response):
    if type(failure).__name__ != "RejectedPositiveData":
        return True
    try:
        body = response.json()
    except ValueError:
        return True
    if not isinstance(body, dict):
        return True
    details = body.get("details")
    if isinstance(details, dict) and details.get("reason") in TOLERATED_TEXT_FAULTS:
        return False
    refusal = (case.method.upper(), case.operation.path, body.get("error"))
    return (*refusal, body.get("message")) not in TOLERATED_REFUSALS and (*refusal, None) not in TOLERATED_REFUSALS


def _pagination_header_documented_as_object(schema) -> bool:
    header = schema.raw_schema.get("components", {}).get("headers", {}).get("PAGINATION", {})
    target = header.get("schema", {})
    if "$ref" in target:
        target = schema.raw_schema["components"]["schemas"].get(target["$ref"].rsplit("/", 1)[-1], {})
    return target.get("type") == "object"


@schemathesis.hook
def after_call(context, case, response):
    # X-Pagination is sent as a JSON text but documented as an object; branch api-input corrects the
    # document. Until it does, this header alone is left out of the header check; once the document
    # changes, the header is checked again.
    if "x-pagination" in response.headers and _pagination_header_documented_as_object(case.operation.schema):
        del response.headers["x-pagination"]
