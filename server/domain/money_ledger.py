"""Double-entry postings for money (fen), beside the points ledger; every transaction's postings sum to zero.

Commission is money, not points: it lives in this ledger only, so the same money can never be spent as
points and withdrawn as cash.

Accounts are found by (owner kind, owner id, account kind). Sign convention: an account that holds
money for its owner is positive (an agent's pending, available and paid commission; the bonus pool;
payouts in transit; tax withheld). An account that *funds* money is negative by what it funded: a
merchant's commission payable goes negative by the commissions its sales earned (what it owes the
alliance for them); the platform's fee income goes negative by what the platform paid from its own
income (regional management fees, the bonus pool's share). An agent's (or promoter member's) debt
account goes negative by what it owes (commission taken back by a refund after it became available)
and back to zero as later commissions net against it. Every other account is guarded never to go
negative.

The life of a commission in postings:

- the day's service fees (day closing): each merchant's fee payable −fee, the platform's fee income +Σ fees
  (the fee line of its statement: within-fee commission already taken out), so the bonus pool's share has
  income to accrue from
- earned (day closing): merchant payable −x, beneficiary pending +x
- refunded before it is available: pending −x, merchant payable +x (in proportion to the refund)
- released after the return window: pending −x, available +x
- refunded after it is available: debt −x, merchant payable +x; then :func:`debt_netting_postings`
  moves available money into the debt account until the debt is cleared
- a consignment of benefit stock paid from commission: available −x, the alliance's benefit sales income +x
- withdrawn (the withdrawals' own module): available −x, payouts in transit +x, then in transit −x,
  paid +x (or back to available on failure), tax withheld from it on the way

A correction is never an edit: :func:`reversing_postings` gives the opposite postings of a transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

# owner kinds
AGENT = "agent"
MEMBER = "member"  # a promoter member (推广会员) who recruited the member who bought
MERCHANT = "merchant"
ALLIANCE = "alliance"
ALLIANCE_OWNER_ID = "alliance"  # the owner id of the alliance's own accounts

# account kinds of a beneficiary (an agent, or a promoter member)
PENDING = "commission_pending"  # earned, inside the merchant's return window (or held by a brushing flag)
AVAILABLE = "commission_available"  # may be withdrawn (when there is no debt)
PAID = "commission_paid"  # paid out by withdrawals, cumulative
DEBT = "commission_debt"  # negative: commission taken back after it was available, not yet netted
BENEFICIARY_ACCOUNTS = (PENDING, AVAILABLE, PAID, DEBT)

# account kinds of a merchant
MERCHANT_COMMISSION_PAYABLE = "merchant_commission_payable"
MERCHANT_FEE_PAYABLE = "merchant_fee_payable"  # negative: the service fees its statements charged
MERCHANT_VOUCHER_RECEIVABLE = "merchant_voucher_receivable"  # vouchers it accepted that others fund (owed to it)
MERCHANT_VOUCHER_PAYABLE = "merchant_voucher_payable"  # negative: its sponsored vouchers accepted elsewhere

# the alliance's accounts
BONUS_POOL = "bonus_pool"  # 奖金池
BONUS_RESERVE = "bonus_reserve"  # 储备金
FEE_INCOME = "platform_fee_income"
PAYOUTS_IN_TRANSIT = "payouts_in_transit"
TAX_WITHHELD = "tax_withheld"
BENEFIT_SALES = "benefit_sales_income"  # what agents paid from their commission for consigned benefit stock
VOUCHER_FUNDING = "voucher_funding"  # negative: alliance-funded vouchers accepted at merchants (owed to them)
ALLIANCE_ACCOUNTS = (
    BONUS_POOL,
    BONUS_RESERVE,
    FEE_INCOME,
    PAYOUTS_IN_TRANSIT,
    TAX_WITHHELD,
    BENEFIT_SALES,
    VOUCHER_FUNDING,
)

ACCOUNT_KINDS = {
    AGENT: BENEFICIARY_ACCOUNTS,
    MEMBER: BENEFICIARY_ACCOUNTS,
    MERCHANT: (
        MERCHANT_COMMISSION_PAYABLE,
        MERCHANT_FEE_PAYABLE,
        MERCHANT_VOUCHER_RECEIVABLE,
        MERCHANT_VOUCHER_PAYABLE,
    ),
    ALLIANCE: ALLIANCE_ACCOUNTS,
}

ACCOUNTS_ALLOWED_NEGATIVE = {
    DEBT,
    MERCHANT_COMMISSION_PAYABLE,
    MERCHANT_FEE_PAYABLE,
    FEE_INCOME,
    MERCHANT_VOUCHER_PAYABLE,
    VOUCHER_FUNDING,
}

# transaction kinds
SERVICE_FEES = "service_fees"  # the day's service fees: each merchant's fee payable −, the platform's fee income +
COMMISSION_EARNED = "commission_earned"
COMMISSION_REVERSED = "commission_reversed"  # refund or confirmed brushing before availability
COMMISSION_RELEASED = "commission_released"
COMMISSION_CLAWBACK = "commission_clawback"  # refund after availability: becomes debt
DEBT_NETTED = "debt_netted"
CORRECTION = "correction"  # the reversal of an earlier transaction
VOUCHERS_SETTLED = "vouchers_settled"  # the day's vouchers: funders −, accepting merchants' receivable +
BENEFIT_CONSIGNMENT_PAID = "benefit_consignment_paid"  # available −x, benefit sales income +x


class UnbalancedTransaction(ValueError):
    """Postings that do not sum to zero; a programming error, never user input."""


class UnknownAccountKind(ValueError):
    """An account kind that an owner of that kind cannot have; a programming error."""


@dataclass(frozen=True)
class Posting:
    """A signed number of fen on one account."""

    account_id: int
    amount: int


def check_account_kind(owner_kind: str, kind: str) -> None:
    """Refuse an account kind its owner cannot have."""
    if kind not in ACCOUNT_KINDS.get(owner_kind, ()):
        raise UnknownAccountKind(f"a {owner_kind} has no {kind} account")


def balanced(postings: list[Posting]) -> list[Posting]:
    """Drop zero postings and check the rest sum to zero."""
    kept = [posting for posting in postings if posting.amount != 0]
    if sum(posting.amount for posting in kept) != 0:
        raise UnbalancedTransaction(f"postings sum to {sum(p.amount for p in kept)}: {kept}")
    return kept


def transfer(source: int, target: int, fen: int) -> list[Posting]:
    """``fen`` from ``source`` to ``target`` (negative ``fen``: the other way)."""
    return balanced([Posting(source, -fen), Posting(target, fen)])


def reversing_postings(postings: list[Posting]) -> list[Posting]:
    """The correction of a transaction: each posting with the opposite sign."""
    return balanced([Posting(posting.account_id, -posting.amount) for posting in postings])


def debt_netting_postings(available: int, debt: int, available_fen: int, debt_fen: int) -> list[Posting]:
    """Move available money into the debt account, as much as clears the debt (``debt_fen`` is ≤ 0)."""
    netted = min(max(available_fen, 0), max(-debt_fen, 0))
    return transfer(available, debt, netted)


def withdrawable(available_fen: int, debt_fen: int) -> int:
    """What a beneficiary may withdraw: its available money, nothing while it is in debt."""
    return 0 if debt_fen < 0 else max(available_fen, 0)
