"""Read-only queries behind list and detail endpoints (no transaction of their own to commit)."""

from __future__ import annotations

from sqlalchemy import Select, func, select

from server.extensions import db
from server.models import Level, Sale


def paginate(query: Select, pagination) -> list:
    """Run ``query`` for one page and tell flask-smorest the total count."""
    pagination.item_count = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    offset = (pagination.page - 1) * pagination.page_size
    return list(db.session.execute(query.offset(offset).limit(pagination.page_size)))


def sale_detail(sale: Sale, level: Level | None = None) -> dict:
    """A stored sale as a dict for SaleDetailSchema."""
    level = level or sale.level
    names = ("id", "receipt_no", "merchant_id", "terminal_id", "member_id", "method", "client_sale_id",
             "amount_fen", "discount_bp", "discount_fen", "redeem_points", "redeem_value_fen", "payable_fen",
             "points_earned", "refunded_fen", "points_reversed", "points_restored", "offline", "occurred_at",
             "created_at")
    return {**{name: getattr(sale, name) for name in names}, "level": {"code": level.code, "name": level.name}}


def list_sales(filters: dict, pagination) -> list[dict]:
    """Sales matching ``filters`` (exact ids, receipt number, time range), newest first."""
    query = select(Sale, Level).join(Level, Level.id == Sale.level_id)
    for name in ("receipt_no", "merchant_id", "member_id", "terminal_id"):
        if filters.get(name):
            query = query.where(getattr(Sale, name) == filters[name])
    if filters.get("occurred_from"):
        query = query.where(Sale.occurred_at >= filters["occurred_from"])
    if filters.get("occurred_to"):
        query = query.where(Sale.occurred_at < filters["occurred_to"])
    rows = paginate(query.order_by(Sale.created_at.desc(), Sale.id), pagination)
    return [sale_detail(sale, level) for sale, level in rows]
