"""Money in integer fen, rates in basis points, and the one rounding rule.

Rounding rule: a price the member pays (an amount times a rate) rounds half up to the fen; anything
granted by a rate (points earned, the cap on what points may pay) rounds down, so the alliance never
grants more than the rate says. Shared by the server and the POS (pure: no Flask, no SQLAlchemy).
"""

from __future__ import annotations

BP_SCALE = 10_000
# 1000 万元: the largest sale, refund or spend threshold the pricing and the API accept; anything above is a
# typo, not a sale. The points such an amount earns at any rate, and every stored amount, fit the database's
# 32-bit integer columns. (The till refuses typed amounts above its own, lower TILL_MAX_AMOUNT_FEN.)
MAX_AMOUNT_FEN = 1_000_000_000


def check_fen(value: int, name: str = "amount_fen") -> int:
    """Return ``value`` if it is a non-negative integer number of fen; raise ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer number of fen")
    return value


def price_at_rate(amount_fen: int, rate_bp: int) -> int:
    """``amount_fen × rate_bp / 10000`` rounded half up to the fen (what a member pays)."""
    return (check_fen(amount_fen) * rate_bp + BP_SCALE // 2) // BP_SCALE


def granted_at_rate(amount_fen: int, rate_bp: int) -> int:
    """``amount_fen × rate_bp / 10000`` rounded down (what a rate grants)."""
    return check_fen(amount_fen) * rate_bp // BP_SCALE


def format_yuan(amount_fen: int) -> str:
    """``12800`` → ``'128.00'`` (for people; never parse it back)."""
    sign = "-" if amount_fen < 0 else ""
    yuan, fen = divmod(abs(amount_fen), 100)
    return f"{sign}{yuan}.{fen:02d}"
