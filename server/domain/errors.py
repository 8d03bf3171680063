"""Domain errors, named after the condition; each carries the stable API error code and HTTP status."""

from __future__ import annotations

# The base class and the refusals of the shared pricing rule live with that rule in alliance_shared (the
# server and the POS price with the same code); they are listed here with the server's other errors.
from alliance_shared.errors import DomainError as DomainError
from alliance_shared.errors import InsufficientPoints as InsufficientPoints
from alliance_shared.errors import InvalidRequest as InvalidRequest
from alliance_shared.errors import RedeemLimitExceeded as RedeemLimitExceeded
from alliance_shared.errors import VoucherInvalid as VoucherInvalid
from alliance_shared.errors import VoucherMinSpend as VoucherMinSpend
from alliance_shared.errors import VoucherOffline as VoucherOffline


class Unauthorized(DomainError):
    code, status, default_message = "unauthorized", 401, "Missing or invalid credentials."


class Forbidden(DomainError):
    code, status, default_message = "forbidden", 403, "You may not do this."


class NotFound(DomainError):
    code, status, default_message = "not_found", 404, "No such object."


class Conflict(DomainError):
    code, status, default_message = "conflict", 409, "The object is not in a state that allows this."


class MemberNotFound(DomainError):
    code, status, default_message = "member_not_found", 404, "No member matches."


class MemberFrozen(DomainError):
    """The operator froze the member's account: no identification at the till, no sign-in to member pages."""

    code, status, default_message = "member_frozen", 403, "This member account is frozen; ask the service desk."


class CardUnknown(DomainError):
    code, status, default_message = "card_unknown", 404, "This card is not known to the alliance."


class CardInvalid(DomainError):
    code, status, default_message = "card_invalid", 422, "The card data is not valid."


class CardBlocked(DomainError):
    code, status, default_message = "card_blocked", 409, "This card is blocked (lost, frozen, replaced or cancelled)."


class CardStale(DomainError):
    code, status, default_message = (
        "card_stale",
        409,
        "This card is behind its counter: suspected clone. The card is now blocked.",
    )
    keeps_changes = True


class CardReadSuperseded(DomainError):
    code, status, default_message = (
        "card_read_superseded",
        409,
        "This chip read was taken before the card's counter moved on: a late resend, not a clone. "
        "Send it as the offline sale it captured.",
    )


class CodeInvalid(DomainError):
    code, status, default_message = "code_invalid", 422, "This code is not a valid member code or card number."


class CodeExpired(DomainError):
    code, status, default_message = "code_expired", 422, "This member code has expired."


class CodeUsed(DomainError):
    code, status, default_message = "code_used", 409, "This member code was already used."


class IdentificationExpired(DomainError):
    code, status, default_message = (
        "identification_expired",
        409,
        "The identification expired or was used; identify the member again.",
    )


class RefundExceedsSale(DomainError):
    code, status, default_message = "refund_exceeds_sale", 409, "The refund exceeds what is left of the sale."


class RefundAuthorisationRequired(DomainError):
    code, status, default_message = (
        "refund_authorisation_required",
        403,
        "This refund needs a supervisor PIN at this merchant.",
    )


class RefundPinWrong(DomainError):
    code, status, default_message = "refund_pin_wrong", 403, "The supervisor PIN is wrong."


class ReceiptNumberTaken(DomainError):
    code, status, default_message = "receipt_no_taken", 409, "Another sale already has this receipt number."


class LoginCodeInvalid(DomainError):
    code, status, default_message = "login_code_invalid", 422, "The verification code is wrong or has expired."
    keeps_changes = True  # the failed attempt is counted


class CardCheckFailed(DomainError):
    code, status, default_message = "card_check_failed", 422, "The card number and check code do not match."


class MemberProofRequired(DomainError):
    code, status, default_message = (
        "member_proof_required",
        403,
        "Spending points needs the member's proof: a chip card, a member code or the SMS code sent to the member.",
    )


# --- agents (issue 16) ---


class AgentSelfUpper(DomainError):
    code, status, default_message = "agent_self_upper", 422, "An agent cannot be its own upper agent."


class AgentChainCycle(DomainError):
    code, status, default_message = (
        "agent_chain_cycle",
        409,
        "This upper agent is below the agent in its own chain; the chain would go round in a circle.",
    )


class AgentChainTooDeep(DomainError):
    code, status, default_message = (
        "agent_chain_too_deep",
        409,
        "The agent chain would be deeper than the alliance allows.",
    )


class AgentRuleNotAllowed(DomainError):
    code, status, default_message = (
        "agent_rule_not_allowed",
        422,
        "Agent levels may not depend on fees, purchases or recruiting people (anti-pyramid-selling rules).",
    )


class TerritoryTaken(DomainError):
    code, status, default_message = (
        "territory_taken",
        409,
        "Another agent holds this region exclusively, or holds it already.",
    )


# --- till-bind: handing out a card at the till (docs/terminal-api.md, POST /cards/{card_no}/binding) ---
class CardNotIssued(Conflict):
    code, status, default_message = (
        "card_not_issued",
        409,
        "This card's chip is not encoded yet; encode it before handing it out.",
    )


class CardAlreadyBound(Conflict):
    code, status, default_message = "card_already_bound", 409, "This card is already bound to a member."


class CardBindingNeedsProof(DomainError):
    code, status, default_message = (
        "binding_proof_required",
        403,
        "Binding a card needs the member's proof: a member code or the SMS code sent to the member.",
    )


# --- benefits (issue 18): the stock of codes (docs/benefits.md) ---
class BenefitOutOfStock(DomainError):
    code, status, default_message = "benefit_out_of_stock", 409, "Not enough codes of this benefit are in stock."


class BenefitCodeInvalid(DomainError):
    """One answer for every code that cannot be used (unknown, used, void, expired, another benefit's), so a
    guess tells nothing about which codes exist."""

    code, status, default_message = "benefit_code_invalid", 404, "This code cannot be used."


class BenefitStockConflict(DomainError):
    code, status, default_message = (
        "benefit_stock_conflict",
        409,
        "These codes changed while this request ran; nothing was changed, please try again.",
    )


class WithdrawalRefused(DomainError):
    """A withdrawal the rules do not allow (debt, minimum, balance, daily maximum); ``reason`` says which."""

    code, status, default_message = "withdrawal_refused", 409, "This withdrawal is not allowed."


class InsufficientFunds(Conflict):
    """A money posting that would take a guarded account of the money ledger below zero."""

    code, status, default_message = "insufficient_funds", 409, "Not enough money on the account."


# --- benefit distribution (issue 19): channels and budgets (docs/benefits.md, "Distribution channels") ---
class BenefitBudgetExhausted(DomainError):
    code, status, default_message = "benefit_budget_exhausted", 409, "This campaign has given out all it had."


class BenefitNotEligible(DomainError):
    code, status, default_message = "benefit_not_eligible", 403, "This member may not receive this benefit."


class BenefitLimitReached(DomainError):
    """An anti-fraud budget is used up for this member, device, IP address, terminal or merchant this hour or
    day (``details``: which subject and period)."""

    code, status, default_message = (
        "benefit_limit_reached",
        429,
        "Too many benefits were claimed or used from here for now; please try again later.",
    )


class BenefitSecondFactorRequired(DomainError):
    """A claim of a high-value benefit on the member's page needs the SMS code just sent to the member."""

    code, status, default_message = (
        "benefit_second_factor_required",
        403,
        "This benefit is valuable: enter the verification code sent to your phone.",
    )


class PartnerSignatureInvalid(DomainError):
    """One answer for an unknown key, a bad signature, a stale timestamp and a nonce used before."""

    code, status, default_message = "partner_signature_invalid", 401, "The request's signature is not valid."
