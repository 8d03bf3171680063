"""The one home of who may do what: roles, terminals and the merchant scope, as the API and console ask it."""

from __future__ import annotations

from types import SimpleNamespace

from server.domain.permissions import (
    SET_DISCOUNTS_PERMISSIONS,
    Actor,
    merchant_in_scope,
    staff_actor,
    terminal_actor,
)


def test_merchant_staff_and_terminals_reach_only_their_own_merchant():
    owner = staff_actor(SimpleNamespace(id="stf_1", role="owner", merchant_id="mer_a"))
    terminal = terminal_actor(SimpleNamespace(id="trm_1", merchant_id="mer_a"))
    admin = staff_actor(SimpleNamespace(id="stf_2", role="admin", merchant_id=None))
    assert (owner.key, terminal.key, terminal.role) == ("staff:stf_1", "terminal:trm_1", "terminal")
    for confined in (owner, terminal):
        assert confined.sees_merchant("mer_a") and not confined.sees_merchant("mer_b")
        assert not confined.sees_merchant(None) and not confined.alliance_wide
        assert confined.confine({"merchant_id": "mer_b", "q": "x"}) == {"merchant_id": "mer_a", "q": "x"}
    assert admin.alliance_wide and admin.sees_merchant("mer_b") and admin.sees_merchant(None)
    assert admin.confine({"merchant_id": "mer_b"}) == {"merchant_id": "mer_b"}
    assert owner.confine({}, "id") == {"id": "mer_a"}
    assert merchant_in_scope(None, "mer_b") and not merchant_in_scope("mer_a", "mer_b")


def test_a_terminal_may_sell_and_refund_but_not_manage():
    terminal = terminal_actor(SimpleNamespace(id="trm_1", merchant_id="mer_a"))
    assert terminal.can("checkout") and terminal.can("sales:refund") and terminal.can("levels:read")
    assert not terminal.can("terminals:write") and not terminal.can("members:read")


def test_operators_set_discounts_anywhere_owners_only_at_their_own_shop():
    admin, finance = Actor("staff:a", "admin", None), Actor("staff:f", "finance", None)
    owner, cashier = Actor("staff:o", "owner", "mer_a"), Actor("staff:c", "cashier", "mer_a")
    assert admin.may_set_discounts("mer_b") and admin.can_any(*SET_DISCOUNTS_PERMISSIONS)
    assert owner.may_set_discounts("mer_a") and not owner.may_set_discounts("mer_b")
    assert not finance.may_set_discounts("mer_a") and not finance.can_any(*SET_DISCOUNTS_PERMISSIONS)
    assert not cashier.may_set_discounts("mer_a")
