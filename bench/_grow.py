"""Grow a seeded PostgreSQL database to many members quickly, in SQL (``INSERT … SELECT generate_series``).

What a busy alliance accumulates, per extra member: a points account, a bound card, ``sales_each`` past
sales spread over ``history_days`` (each with a points lot already spent down to 0), and as many
identifications, all expired and used. The rows are consistent with the invariants the benchmark checks:
the grown members hold 0 points, so their (closed) lots sum to their balance and no ledger entry is
needed. Levels, merchants and terminals are taken from what the services seeded. Grown ids have a "."
after their prefix (``mem_.000000000001``), a character no generated id holds; grown card numbers start
with "g".

Used by ``bench/checkout.py --members N`` and by ``tests/services/test_sale_plans.py``.

:func:`grow_ledger` adds points-ledger history instead (``bench/scale.py --ledger-rows``): past earn-and-redeem
pairs of the members over ``months`` months, in the monthly partitions of ``ledger_entries``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import text

_STEPS = (
    (
        "ledger accounts",
        """
        INSERT INTO ledger_accounts (kind, owner_id, balance, allow_negative, created_at)
        SELECT 'member_points', 'mem_.' || lpad(n::text, 12, '0'), 0, false, now() - interval '2 years'
        FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) AS n
        """,
    ),
    (
        "members",
        """
        INSERT INTO members (id, display_name, phone_ciphertext, phone_hash, phone_masked, level_id, level_since,
                             status, points_account_id, created_at)
        SELECT a.owner_id, '会员' || substr(a.owner_id, 6), '\\x00'::bytea, md5(a.owner_id) || md5(a.owner_id),
               '139****' || right(a.owner_id, 4), :level_id, a.created_at, 'active', a.id, a.created_at
        FROM ledger_accounts a
        WHERE a.kind = 'member_points' AND a.owner_id LIKE 'mem\\_.%'
          AND a.owner_id BETWEEN :first_member AND :last_member
        """,
    ),
    (
        "cards",
        """
        INSERT INTO cards (id, card_no, kind, status, member_id, key_version, counter, counter_unconfirmed,
                           level_rank, created_at)
        SELECT 'crd_.' || lpad(n::text, 12, '0'), 'g' || lpad(n::text, 12, '0'), 'physical', 'active',
               'mem_.' || lpad(n::text, 12, '0'), 1, 0, false, 0, now() - interval '2 years'
        FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) AS n
        """,
    ),
    (
        "sales",
        """
        INSERT INTO sales (id, merchant_id, terminal_id, member_id, card_id, level_id, method, receipt_no,
                           amount_fen, discount_bp, discount_fen, redeem_points, redeem_value_fen, payable_fen,
                           points_earned, refunded_fen, points_reversed, points_restored, offline, payment_method,
                           occurred_at, created_at)
        SELECT 'sal_.' || lpad(n::text, 12, '0') || lpad(s::text, 4, '0'), t.merchant_id, t.id,
               'mem_.' || lpad(n::text, 12, '0'), 'crd_.' || lpad(n::text, 12, '0'), :level_id, 'code',
               'g' || lpad(n::text, 12, '0') || lpad(s::text, 4, '0'),
               5000, 0, 0, 0, 0, 5000, 50, 0, 0, 0, false, 'cash', at, at
        FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) AS n
        CROSS JOIN generate_series(1, CAST(:sales_each AS integer)) AS s
        CROSS JOIN LATERAL (
            SELECT now()
                   - make_interval(secs => ((n::bigint * 7919 + s * 104729) % (:history_days * 86400))::float8) AS at
        ) AS w
        JOIN terminals t ON t.id = (SELECT array_agg(id ORDER BY id) FROM terminals)[1 + n % :terminals]
        """,
    ),
    (
        "points lots",
        """
        INSERT INTO points_lots (member_id, source, sale_id, earned_on, expires_on, points, remaining,
                                 expired_points, created_at)
        SELECT s.member_id, 'sale', s.id, s.occurred_at::date, s.occurred_at::date + 730, s.points_earned, 0, 0,
               s.occurred_at
        FROM sales s
        WHERE s.id LIKE 'sal\\_.%'
          AND s.member_id BETWEEN :first_member AND :last_member
        """,
    ),
    (
        "identifications",
        """
        INSERT INTO identifications (token_hash, member_id, terminal_id, card_id, method, proof, expires_at,
                                     used_at, created_at)
        SELECT md5(s.id) || md5(s.id || 'i'), s.member_id, s.terminal_id, s.card_id, 'code', NULL,
               s.occurred_at + interval '5 minutes', s.occurred_at, s.occurred_at - interval '10 seconds'
        FROM sales s
        WHERE s.id LIKE 'sal\\_.%'
          AND s.member_id BETWEEN :first_member AND :last_member
        """,
    ),
)


def grown_members(connection) -> int:
    """How many grown members the database holds already."""
    return connection.execute(text("SELECT count(*) FROM members WHERE id LIKE 'mem\\_.%'")).scalar_one()


def grow(
    connection,
    members: int,
    *,
    sales_each: int = 4,
    history_days: int = 400,
    chunk: int = 50_000,
    progress=None,
) -> int:
    """Add grown members until the database holds ``members`` members in all; return how many were added.

    ``connection`` is a SQLAlchemy connection to PostgreSQL in a transaction (the caller commits); the
    tables are ANALYZEd afterwards so the planner sees their real sizes.
    """
    have = connection.execute(text("SELECT count(*) FROM members")).scalar_one()
    missing = members - have
    if missing <= 0:
        return 0
    level_id = connection.execute(text("SELECT id FROM levels ORDER BY rank LIMIT 1")).scalar_one()
    terminals = connection.execute(text("SELECT count(*) FROM terminals")).scalar_one()
    start = grown_members(connection) + 1
    for first in range(start, start + missing, chunk):
        last = min(first + chunk, start + missing) - 1
        params = {
            "first": first,
            "last": last,
            "first_member": f"mem_.{first:012d}",
            "last_member": f"mem_.{last:012d}",
            "level_id": level_id,
            "sales_each": sales_each,
            "history_days": history_days,
            "terminals": max(1, terminals),
        }
        for name, sql in _STEPS:
            connection.execute(text(sql), params)
            if progress:
                progress(f"  {name} of members {first}-{last}")
    for table in ("ledger_accounts", "members", "cards", "sales", "points_lots", "identifications"):
        connection.execute(text(f"ANALYZE {table}"))
    return missing


_GROWN_LEDGER = """
WITH units AS (
    SELECT n, :base + 2 * n AS earn_id, :base + 2 * n + 1 AS redeem_id,
           (SELECT array_agg(id ORDER BY id) FROM ledger_accounts WHERE kind = 'member_points')
               [1 + (n * 7919) % :members] AS member_account,
           1 + n % :merchants AS merchant_no, 1 + (n * 104729) % 5000 AS points,
           now() - make_interval(secs => ((n * 15485863) % (:months * 30 * 86400))::float8) AS at
    FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS n
), merchant_accounts AS (
    SELECT row_number() OVER (ORDER BY id) AS merchant_no, points_issued_account_id AS issued,
           points_accepted_account_id AS accepted
    FROM merchants
), transactions AS (
    INSERT INTO ledger_transactions (id, kind, actor, memo, created_at)
    SELECT t.id, t.kind, 'bench:grown', '', u.at
    FROM units u CROSS JOIN LATERAL (VALUES (u.earn_id, 'sale'), (u.redeem_id, 'sale')) AS t (id, kind)
)
INSERT INTO ledger_entries (transaction_id, account_id, amount, created_at)
SELECT e.transaction_id, e.account_id, e.amount, u.at
FROM units u
JOIN merchant_accounts m USING (merchant_no)
CROSS JOIN LATERAL (VALUES (u.earn_id, u.member_account, u.points), (u.earn_id, m.issued, -u.points),
                           (u.redeem_id, u.member_account, -u.points), (u.redeem_id, m.accepted, u.points))
    AS e (transaction_id, account_id, amount)
"""


def _month_start(months_back: int) -> date:
    today = datetime.now(UTC).date()
    index = today.year * 12 + today.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def grown_ledger_entries(connection) -> int:
    """How many ledger entries the database holds."""
    return connection.execute(text("SELECT count(*) FROM ledger_entries")).scalar_one()


def grow_ledger(connection, entries: int, *, months: int = 24, chunk: int = 1_000_000, progress=None) -> int:
    """Add points-ledger history until ``ledger_entries`` holds ``entries`` rows; return how many were added.

    Each unit is a past sale's two transactions, four entries: a member earns N points from a merchant's
    issued account, then redeems them to its accepted account. The member's balance and lots are unchanged
    (earned and spent), the merchant's accounts move as a real alliance's do and their cached balances are
    moved to match, so every invariant the benchmarks check still holds. Rows fall on ``months`` past months,
    whose partitions are created as the ``create-partitions`` job names them; the tables are then VACUUMed
    and ANALYZEd (the caller commits first: pass an autocommit connection for the VACUUM).
    """
    missing = entries - grown_ledger_entries(connection)
    if missing <= 0:
        return 0
    for back in range(months, -1, -1):
        start, end = _month_start(back), _month_start(back - 1)
        for table in ("ledger_entries", "money_entries"):
            connection.execute(
                text(
                    f"CREATE TABLE IF NOT EXISTS {table}_p{start:%Y%m} PARTITION OF {table} FOR VALUES "
                    f"FROM ('{start.isoformat()} 00:00:00+00') TO ('{end.isoformat()} 00:00:00+00')"
                )
            )
    members = connection.execute(text("SELECT count(*) FROM ledger_accounts WHERE kind = 'member_points'")).scalar_one()
    merchants = connection.execute(text("SELECT count(*) FROM merchants")).scalar_one()
    base = connection.execute(text("SELECT coalesce(max(id), 0) FROM ledger_transactions")).scalar_one()
    units = missing // 4
    for first in range(0, units, chunk):
        last = min(first + chunk, units) - 1
        params = {
            "base": base + 1,
            "first": first,
            "last": last,
            "members": members,
            "merchants": merchants,
            "months": months,
        }
        connection.execute(text(_GROWN_LEDGER), params)
        if progress:
            progress(f"  ledger entries: {4 * (last + 1):,} of {4 * units:,} added")
    connection.execute(text("SELECT setval('ledger_transactions_id_seq', (SELECT max(id) FROM ledger_transactions))"))
    connection.execute(  # the merchants' cached balances follow their grown entries
        text(
            "UPDATE ledger_accounts a SET balance = e.total FROM (SELECT account_id, sum(amount) AS total "
            "FROM ledger_entries GROUP BY account_id) e "
            "WHERE e.account_id = a.id AND a.kind <> 'member_points' AND a.balance <> e.total"
        )
    )
    return 4 * units
