"""Membership cards, the batches they are issued in, and anti-clone alerts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from server.domain.statuses import CardBatchKind, CardBatchState, CardStatus
from server.models.base import Base, created_column, id_column, status_column

PHYSICAL = "physical"  # a plastic card: printed number, with or without a chip
ELECTRONIC = "electronic"  # the e-card issued with a member's registration on the phone; nothing to lose
CARD_KINDS = (PHYSICAL, ELECTRONIC)


class CardBatch(Base):
    """A print run of cards for the card factory: chip cards to encode, or printed cards without a chip."""

    __tablename__ = "card_batches"

    id: Mapped[str] = id_column("bat")
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = status_column(CardBatchKind, CardBatchKind.CHIP, name="kind", server_default=CardBatchKind.CHIP)
    card_type: Mapped[str] = mapped_column(String(32))
    count: Mapped[int]
    level_id: Mapped[str | None] = mapped_column(ForeignKey("levels.id"))
    first_card_no: Mapped[str] = mapped_column(String(20))
    last_card_no: Mapped[str] = mapped_column(String(20))
    print_details: Mapped[dict] = mapped_column(JSON, default=dict)
    state: Mapped[str] = status_column(CardBatchState, CardBatchState.CREATED, name="state")
    created_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = created_column()


class CardConsignment(Base):
    """Cards of a batch handed to an agent (代理拿卡): the whole batch or a range of its card numbers.

    A member who binds one of these cards is recorded as the agent's recruit (if no recruiter is recorded).
    Nothing is paid for it: the agent's figures count such members only once they consume.
    """

    __tablename__ = "card_consignments"
    __table_args__ = (CheckConstraint("first_card_no <= last_card_no", name="range_ordered"),)

    id: Mapped[str] = id_column("csg")
    batch_id: Mapped[str] = mapped_column(ForeignKey("card_batches.id"), index=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"), index=True)
    first_card_no: Mapped[str] = mapped_column(String(20))
    last_card_no: Mapped[str] = mapped_column(String(20))
    count: Mapped[int]
    created_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = created_column()


class Card(Base):
    """A membership card: printed number with check digit, optional chip UID, lifecycle status.

    ``kind`` says what the card is, set once when it is created: a physical card (from a batch, or a
    printed card without a chip) or a member's electronic card. Nothing else (batch, chip, age) tells them
    apart: a printed card without a chip and an e-card look the same otherwise.

    Status: created (in a batch) → encoding (chip being written) → issued → active (bound to a
    member) → lost / frozen / replaced / cancelled. ``counter`` is the anti-clone counter the card
    should hold; while ``counter_unconfirmed`` the previous value is still accepted (write-back pending).
    """

    __tablename__ = "cards"
    # The encoder's "next free card of the batch" and the batch progress walk this index.
    __table_args__ = (Index("ix_cards_batch_status_card_no", "batch_id", "status", "card_no"),)

    id: Mapped[str] = id_column("crd")
    card_no: Mapped[str] = mapped_column(String(20), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default=PHYSICAL, server_default=PHYSICAL)
    chip_uid: Mapped[str | None] = mapped_column(String(20), unique=True)
    status: Mapped[str] = status_column(CardStatus, CardStatus.CREATED)
    member_id: Mapped[str | None] = mapped_column(ForeignKey("members.id"), index=True)
    batch_id: Mapped[str | None] = mapped_column(ForeignKey("card_batches.id"))
    key_version: Mapped[int] = mapped_column(default=1)
    counter: Mapped[int] = mapped_column(default=0)
    counter_unconfirmed: Mapped[bool] = mapped_column(default=False)
    # when an online tap last moved the counter on: a chip read taken before it is a late resend, not a clone
    counter_moved_at: Mapped[datetime | None]
    level_rank: Mapped[int] = mapped_column(default=0)
    replaced_by_id: Mapped[str | None] = mapped_column(ForeignKey("cards.id"))
    status_changed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_column()


class CardAlert(Base):
    """Something the operator must look at, e.g. a card presented with a stale counter (suspected clone)."""

    __tablename__ = "card_alerts"

    id: Mapped[str] = id_column("alr")
    card_id: Mapped[str] = mapped_column(ForeignKey("cards.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    terminal_id: Mapped[str | None] = mapped_column(ForeignKey("terminals.id"))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    resolved_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_column()
