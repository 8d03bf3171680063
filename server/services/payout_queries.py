"""What the API and the console read of withdrawals and the bonus pool (thin wrappers over the use cases)."""

from __future__ import annotations

from sqlalchemy import func, select

from server.extensions import db
from server.models import BonusPoolPeriod, Withdrawal
from server.services import bonus_pool, withdrawals


def list_withdrawals(filters: dict, pagination) -> list[Withdrawal]:
    query = select(Withdrawal)
    if filters.get("agent_id"):
        query = query.where(Withdrawal.agent_id == filters["agent_id"])
    if filters.get("status"):
        query = query.where(Withdrawal.status == filters["status"])
    pagination.item_count = db.session.scalar(select(func.count()).select_from(query.subquery()))
    page, size = pagination.page, pagination.page_size
    return list(
        db.session.scalars(
            query.order_by(Withdrawal.requested_at.desc(), Withdrawal.id).limit(size).offset((page - 1) * size)
        )
    )


def request_for_api(actor: str, args: dict) -> Withdrawal:
    """A request made through the API: the Idempotency-Key handles replays, each call is its own withdrawal."""
    import secrets

    return withdrawals.request_withdrawal(
        actor, args.pop("agent_id"), args.pop("amount_fen"), "api-" + secrets.token_hex(12), **args
    )


def pool_view(row: BonusPoolPeriod) -> dict:
    view = {column.name: getattr(row, column.name) for column in BonusPoolPeriod.__table__.columns}
    view["shares"] = bonus_pool.shares_of(row.period)
    return view


def bonus_pools() -> list[dict]:
    return [pool_view(row) for row in bonus_pool.list_periods()]


def distribution_action(actor: str, period: str, action: str, reason: str = "") -> dict:
    if action == "reverse":
        row = bonus_pool.reverse_distribution(actor, period, reason)
    elif action == "pay":
        row = bonus_pool.pay_distribution(actor, period)
    else:
        row = bonus_pool.distribute_period(actor, period)
    return pool_view(row)


def agent_names(agent_ids) -> dict[str, str]:
    from server.models import Agent

    ids = list(set(agent_ids))
    if not ids:
        return {}
    return dict(db.session.execute(select(Agent.id, Agent.name).where(Agent.id.in_(ids))).all())


def withdrawal_queue(status: str | None, pagination) -> tuple[list[Withdrawal], dict[str, str], dict[str, int]]:
    """A page of withdrawals (by status, newest first), the agents' names, and the count per status."""
    rows = list_withdrawals({"status": status} if status else {}, pagination)
    counts = dict(db.session.execute(select(Withdrawal.status, func.count()).group_by(Withdrawal.status)).all())
    return rows, agent_names(row.agent_id for row in rows), counts


def bonus_pool_page() -> dict:
    periods = bonus_pool.list_periods()
    shares = {row.period: bonus_pool.shares_of(row.period) for row in periods}
    names = agent_names(share.agent_id for rows in shares.values() for share in rows)
    return {"periods": periods, "shares": shares, "names": names, "balances": bonus_pool.pool_balances()}
