"""Random sequences of sales, refunds and adjustments on the real services keep the ledger exact.

Each example starts from empty tables (the conftest wipes only after a whole test), builds the
standard world and runs its operations; a model of every member's points follows along. After every
operation the member balances equal the model and are never negative; an operation that fails
raised a DomainError and changed nothing; after the sequence the double-entry invariants hold.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from alliance_shared.money import granted_at_rate, price_at_rate
from server.domain.errors import (
    DomainError,
    InsufficientPoints,
    InvalidRequest,
    RedeemLimitExceeded,
    RefundExceedsSale,
)
from server.domain.ledger import ALLIANCE_ADJUSTMENTS
from server.extensions import db
from server.models import (
    ALLIANCE_OWNER,
    AuditLog,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Member,
    Merchant,
    MerchantLevelDiscount,
    Refund,
    Sale,
)
from server.services import checkout, members
from server.services.points import lot_mismatches
from server.services.staff import terminal_for_token
from tests.builders import make_member, make_world
from tests.conftest import wipe

ACTOR = "test:ledger-properties"
START_POINTS = (2_000, 150, 0)

sale_op = st.tuples(
    st.just("sale"),
    st.integers(min_value=0, max_value=len(START_POINTS) - 1),  # member
    st.integers(min_value=0, max_value=1),  # shop
    st.integers(min_value=1, max_value=300_000),  # amount_fen
    st.one_of(st.just(0), st.just("max"), st.integers(min_value=1, max_value=6_000)),  # redeem_points
)
refund_op = st.tuples(
    st.just("refund"),
    st.integers(min_value=0, max_value=30),  # which sale (modulo the sales so far)
    st.one_of(st.none(), st.integers(min_value=-2, max_value=200_000)),  # amount_fen (None: the rest)
)
adjust_op = st.tuples(
    st.just("adjust"),
    st.integers(min_value=0, max_value=len(START_POINTS) - 1),
    st.integers(min_value=-3_000, max_value=3_000),
)
operations = st.lists(st.one_of(sale_op, refund_op, adjust_op), min_size=1, max_size=20)


@dataclass
class Model:
    """What the points should be, kept independently of the ledger."""

    balances: list[int]
    sales: list[str] = field(default_factory=list)
    adjustments: int = 0


def snapshot() -> tuple:
    """Everything an operation could change."""

    def rows(*columns):
        return sorted(tuple(row) for row in db.session.execute(select(*columns)))

    def count(model):
        return db.session.scalar(select(func.count()).select_from(model))

    return (
        rows(LedgerAccount.id, LedgerAccount.balance),
        rows(Sale.id, Sale.refunded_fen, Sale.points_reversed, Sale.points_restored),
        rows(Member.id, Member.level_id, Member.level_since),
        count(LedgerEntry),
        count(LedgerTransaction),
        count(Refund),
        count(AuditLog),
    )


def member_balances(member_ids: list[str]) -> list[int]:
    found = dict(
        db.session.execute(
            select(Member.id, LedgerAccount.balance).join(LedgerAccount, LedgerAccount.id == Member.points_account_id)
        ).all()
    )
    return [found[member_id] for member_id in member_ids]


def expect_failure(expected: type[DomainError], action) -> None:
    """``action`` must raise ``expected`` and leave the database as it was."""
    before = snapshot()
    with pytest.raises(expected):
        action()
    event(f"refused: {expected.__name__}")
    db.session.rollback()
    assert snapshot() == before


def run_sale(world, model, member_ids, cards, op) -> None:
    _, who, shop_index, amount, redeem = op
    shop = (world.shop_a, world.shop_b)[shop_index]
    terminal = terminal_for_token(shop.token)
    found = checkout.identify(terminal, code=cards[who].card_no)
    max_points = checkout.quote(terminal, found.token, amount, 0)["max_redeem_points"]
    if redeem == "max":
        redeem = max_points
    refusal = None
    if redeem > model.balances[who]:
        refusal = InsufficientPoints  # reported before the merchant's cap
    elif redeem > max_points:
        refusal = RedeemLimitExceeded
    if refusal is not None:
        expect_failure(
            refusal,
            lambda: checkout.record_sale(
                terminal, identification_token=found.token, amount_fen=amount, redeem_points=redeem
            ),
        )
        # the refused sale did not use up the identification either
        assert checkout.quote(terminal, found.token, amount, 0)["max_redeem_points"] == max_points
        return
    result = checkout.record_sale(terminal, identification_token=found.token, amount_fen=amount, redeem_points=redeem)
    sale = result.sale
    assert (sale.amount_fen, sale.redeem_points, sale.member_id) == (amount, redeem, member_ids[who])
    model.balances[who] += sale.points_earned - sale.redeem_points
    model.sales.append(sale.id)
    event("sale with points" if redeem else "sale")
    assert result.points_balance == model.balances[who]


def run_refund(model, member_ids, op) -> None:
    _, pick, amount = op
    if not model.sales:
        return
    sale = db.session.get(Sale, model.sales[pick % len(model.sales)])
    db.session.refresh(sale)
    who = member_ids.index(sale.member_id)
    remaining = sale.payable_fen - sale.refunded_fen
    done = remaining == 0 and sale.points_restored == sale.redeem_points
    before = (sale.refunded_fen, sale.points_reversed, sale.points_restored)

    def refund():
        return checkout.refund_sale(ACTOR, sale.id, sale.merchant_id, amount, "property test")

    if amount is None and done:
        expect_failure(RefundExceedsSale, refund)
    elif amount is not None and amount <= 0:
        expect_failure(InvalidRequest, refund)
    elif amount is not None and amount > remaining:
        expect_failure(RefundExceedsSale, refund)
    else:
        result = refund()
        refund_row = result.refund
        assert refund_row.amount_fen == (remaining if amount is None else amount)
        # cumulative proportional shares, rounded down; the last refund moves exactly the rest
        refunded_after = before[0] + refund_row.amount_fen

        def share(total):
            return total if refunded_after >= sale.payable_fen else total * refunded_after // sale.payable_fen

        due = share(sale.points_earned) - before[1]
        assert refund_row.points_restored == share(sale.redeem_points) - before[2]
        # only what the member holds (after the restore) is taken back; the shortfall is recorded
        recoverable = min(due, model.balances[who] + refund_row.points_restored)
        assert (refund_row.points_reversed, refund_row.points_unrecovered) == (recoverable, due - recoverable)
        model.balances[who] += refund_row.points_restored - refund_row.points_reversed
        event("refund with shortfall" if refund_row.points_unrecovered else "refund")
        assert result.points_balance == model.balances[who]


def run_adjust(model, member_ids, op) -> None:
    _, who, points = op

    def adjust():
        return members.adjust_points(ACTOR, member_ids[who], points, "property test")

    if points == 0:
        expect_failure(InvalidRequest, adjust)
    elif model.balances[who] + points < 0:
        expect_failure(InsufficientPoints, adjust)
    else:
        assert adjust() == model.balances[who] + points
        model.balances[who] += points
        model.adjustments += points
        event("adjustment")


def check_ledger(model: Model, member_ids: list[str]) -> None:
    """The double-entry invariants over the whole database."""
    unbalanced = db.session.execute(
        select(LedgerEntry.transaction_id, func.sum(LedgerEntry.amount))
        .group_by(LedgerEntry.transaction_id)
        .having(func.sum(LedgerEntry.amount) != 0)
    ).all()
    assert unbalanced == []

    entry_sums = dict(
        db.session.execute(
            select(LedgerEntry.account_id, func.sum(LedgerEntry.amount)).group_by(LedgerEntry.account_id)
        ).all()
    )
    accounts = db.session.scalars(select(LedgerAccount)).all()
    for account in accounts:
        assert account.balance == entry_sums.get(account.id, 0), account.kind
        if not account.allow_negative:
            assert account.balance >= 0
    assert sum(account.balance for account in accounts) == 0
    assert member_balances(member_ids) == model.balances
    assert lot_mismatches() == []  # every member's open lots sum to their balance

    issued, accepted = defaultdict(int), defaultdict(int)
    sales = db.session.scalars(select(Sale)).all()
    assert sorted(sale.id for sale in sales) == sorted(model.sales)
    refunds_by_sale = defaultdict(list)
    for refund in db.session.scalars(select(Refund)):
        refunds_by_sale[refund.sale_id].append(refund)
    merchants = {merchant.id: merchant for merchant in db.session.scalars(select(Merchant))}
    discounts = {
        (row.merchant_id, row.level_id): row.discount_bp for row in db.session.scalars(select(MerchantLevelDiscount))
    }
    for sale in sales:
        assert sale.amount_fen == sale.discount_fen + sale.redeem_value_fen + sale.payable_fen
        # priced by the rules: the level's discount at the merchant, 1 point = 1 fen, the merchant's earn rate
        assert sale.discount_bp == discounts[(sale.merchant_id, sale.level_id)]
        assert sale.discount_fen == sale.amount_fen - price_at_rate(sale.amount_fen, sale.discount_bp)
        assert sale.redeem_value_fen == sale.redeem_points
        assert sale.points_earned == granted_at_rate(sale.payable_fen, merchants[sale.merchant_id].earn_rate_bp)
        assert min(sale.discount_fen, sale.redeem_value_fen, sale.payable_fen, sale.points_earned) >= 0
        assert 0 <= sale.refunded_fen <= sale.payable_fen
        assert 0 <= sale.points_restored <= sale.redeem_points
        assert 0 <= sale.points_reversed <= sale.points_earned
        refunds = refunds_by_sale[sale.id]
        assert sum(r.amount_fen for r in refunds) == sale.refunded_fen
        assert sum(r.points_restored for r in refunds) == sale.points_restored
        assert sum(r.points_reversed + r.points_unrecovered for r in refunds) == sale.points_reversed
        if sale.refunded_fen == sale.payable_fen and refunds:
            assert (sale.points_restored, sale.points_reversed) == (sale.redeem_points, sale.points_earned)
        issued[sale.merchant_id] += -sale.points_earned + sum(r.points_reversed for r in refunds)
        accepted[sale.merchant_id] += sale.redeem_points - sum(r.points_restored for r in refunds)
    for merchant in merchants.values():
        assert db.session.get(LedgerAccount, merchant.points_issued_account_id).balance == issued[merchant.id]
        assert db.session.get(LedgerAccount, merchant.points_accepted_account_id).balance == accepted[merchant.id]
    adjustments = db.session.scalar(
        select(LedgerAccount.balance).where(
            LedgerAccount.kind == ALLIANCE_ADJUSTMENTS, LedgerAccount.owner_id == ALLIANCE_OWNER
        )
    )
    assert adjustments == -model.adjustments


# No shrink phase: every shrink step rebuilds the world, and shrinking would run for minutes. A failure
# reports the generated sequence of operations as it is (at most 20 of them).
@settings(
    max_examples=30,
    deadline=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_random_operations_keep_the_ledger_exact(app, ops):
    wipe(app)
    with app.app_context():
        try:
            world = make_world()
            built = [make_member(points=points) for points in START_POINTS]
            member_ids = [member.id for member, _ in built]
            cards = [card for _, card in built]
            model = Model(balances=list(START_POINTS), adjustments=sum(START_POINTS))
            for op in ops:
                if op[0] == "sale":
                    run_sale(world, model, member_ids, cards, op)
                elif op[0] == "refund":
                    run_refund(model, member_ids, op)
                else:
                    run_adjust(model, member_ids, op)
                balances = member_balances(member_ids)
                assert balances == model.balances
                assert min(balances) >= 0
            check_ledger(model, member_ids)
        finally:
            db.session.remove()


def test_an_overdrawn_refund_keeps_the_shortfall_with_the_merchant(app):
    """A member who spent the points a refund takes back: only what they hold is taken, the rest recorded."""
    with app.app_context():
        world = make_world()
        member, card = make_member(points=0)
        terminal = terminal_for_token(world.shop_a.token)
        found = checkout.identify(terminal, code=card.card_no)
        sale = checkout.record_sale(terminal, identification_token=found.token, amount_fen=50_000).sale
        assert sale.points_earned == 500
        members.adjust_points(ACTOR, member.id, -450, "spent elsewhere")
        result = checkout.refund_sale(ACTOR, sale.id, None)
        assert (result.refund.points_reversed, result.refund.points_unrecovered) == (50, 450)
        assert result.points_balance == 0
        model = Model(balances=[0], sales=[sale.id], adjustments=-450)
        check_ledger(model, [member.id])
        db.session.remove()
