"""POS tap-to-approval latency: a chip card on the virtual reader to a sale recorded by a live server.

    python -m bench.pos_latency [--taps 100] [--postgres [URL]]

Serves the app (testing configuration; a SQLite file database, or with --postgres a throw-away database
``alliance_bench_pos`` on that PostgreSQL server) on a local port, uses the running pcscd
or starts one with vsmartcard-vpcd, encodes one alliance card on a virtual MIFARE Classic 1K, binds it to
a member, and then times --taps checkouts through ``pos_client.checkout.Checkout`` with the card lying on
the reader: wait_for_card (connect + UID), read the named blocks, store in the outbox, POST /sales with the
chip read (one request: ``Checkout.tap_and_pay``), write the anti-clone counter back. ``--two-requests``
times the identify-first flow instead (POST /identify, write-back, price, outbox, POST /sales).

Prints p50/p99, APDUs per tap, the floor = APDUs x the measured APDU round trip + one measured HTTP round
trip (GET /terminal), and p50/floor (target <= 1.3).
"""

from __future__ import annotations

import argparse
import collections
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_RATIO = 1.3
BENCH_DATABASE = "alliance_bench_pos"


def percentile(values: list[float], fraction: float) -> float:
    """The value below which ``fraction`` of ``values`` lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def timed(method, record):
    """``method``, calling ``record`` with the seconds each call takes."""

    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            record(time.perf_counter() - started)

    return wrapper


def adding_to(spent: collections.Counter, category: str):
    """A ``record`` for ``timed`` adding the seconds to ``spent[category]``."""
    return lambda seconds: spent.update({category: seconds})


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taps", type=int, default=100)
    parser.add_argument(
        "--postgres",
        nargs="?",
        const="postgresql://postgres@127.0.0.1:5432/postgres",
        default=None,
        help="run the server on PostgreSQL (default server: %(const)s)",
    )
    parser.add_argument("--smoke", action="store_true", help="3 taps: does the benchmark still run?")
    parser.add_argument("--two-requests", action="store_true", help="identify first, then the sale (two requests)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.taps = 3
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    from alliance_shared.devices.pcsc_reader import PcscCardReader
    from pos_client.checkout import Checkout
    from pos_client.config import PosConfig
    from pos_client.outbox import Outbox
    from pos_client.terminal import terminal_client
    from server import create_app
    from server.config import TestingConfig
    from server.extensions import db
    from tests.hardware.card_tools_helpers import blank_cards, encode_cards, make_alliance
    from tests.hardware.pcscd import PcscdUnavailable, claimed_slot, running_pcscd
    from tests.hardware.vpcd import VPCD_HOST, VirtualCardConnection
    from tests.live_server import live_server

    http_times: list[float] = []  # seconds of each request, from sending it to its whole answer read
    workdir = Path(tempfile.mkdtemp(prefix="bench-pos-"))
    database = f"sqlite:///{workdir / 'server.db'}"
    if args.postgres:
        from bench._postgres import database_url, recreate_database, server_url

        base = server_url(args.postgres)
        bench_database = f"{BENCH_DATABASE}_smoke_{os.getpid()}" if args.smoke else BENCH_DATABASE
        recreate_database(base, bench_database)
        database = database_url(base, bench_database)
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=database)
    with app.app_context():
        db.create_all()
    try:
        pcscd = running_pcscd(workdir / "pcscd.log")
        slots, _ = pcscd.__enter__()
    except PcscdUnavailable as exc:
        print(f"skipped: {exc}")
        return 0
    try:
        with claimed_slot(slots[0]) as slot, live_server(app) as url:
            reader = PcscCardReader(slot.reader)
            vpcd = VirtualCardConnection(VPCD_HOST, slot.port, reader_name=slot.reader)
            alliance = make_alliance(app, url)
            batch = alliance.staff.create_batch(1)
            card = blank_cards(1, first_uid=0x0BEC0001)[0]
            (card_no,) = encode_cards(alliance, vpcd, reader, batch["id"], [card])
            alliance.staff.bind_card(alliance.new_member(), card_no)
            token = alliance.terminal.headers["Authorization"].removeprefix("Bearer ")
            config = PosConfig(server_url=url, token=token)
            client = terminal_client(config)
            client.pool.request = timed(client.pool.request, http_times.append)
            core = Checkout(client, Outbox(workdir / "outbox.sqlite3"), None, reader)
            core.refresh()
            spent: collections.Counter = collections.Counter()
            reader.wait_for_card = timed(reader.wait_for_card, adding_to(spent, "connect"))
            reader.transmit = timed(reader.transmit, adding_to(spent, "apdus"))
            for name in ("add_sale", "mark_sent", "keep_receipt", "pending", "sale", "pending_count"):
                setattr(core.outbox, name, timed(getattr(core.outbox, name), adding_to(spent, "outbox")))
            parts: dict[str, list[float]] = collections.defaultdict(list)

            # the card stays on the reader: each tap starts at "card present"
            timings, apdus, requests, server_seconds = [], [], [], []
            for _ in range(args.taps):
                http_times.clear()
                spent.clear()
                started = time.perf_counter()
                if args.two_requests:
                    core.identify_card(timeout=5)
                    core.quote(1_000)
                    outcome = core.commit(1_000)
                else:
                    outcome = core.tap_and_pay(1_000, timeout=5)
                member = core.member
                timings.append(time.perf_counter() - started)
                assert outcome.status == "approved" and member.card_written, outcome
                apdus.append(core.last_apdus + 1)  # + the UID read of wait_for_card
                requests.append(len(http_times))
                server_seconds.append(sum(http_times))
                for category in ("connect", "apdus", "outbox"):
                    parts[category].append(spent[category])
                core.reset()

            reader.wait_for_card(5)
            spent.clear()
            rounds = 200
            started = time.perf_counter()
            for _ in range(rounds):
                reader.transmit(bytes.fromhex("FFCA000000"))
            apdu_rtt = (time.perf_counter() - started) / rounds
            started = time.perf_counter()
            for _ in range(rounds // 4):
                core.client.whoami()
            http_rtt = (time.perf_counter() - started) / (rounds // 4)
            reader.close()
            vpcd.remove(wait=False)
    finally:
        pcscd.__exit__(None, None, None)
        if args.postgres:
            from bench._postgres import drop_database

            with app.app_context():
                db.engine.dispose()
            drop_database(base, bench_database)

    per_tap = statistics.median(apdus)
    floor = per_tap * apdu_rtt + http_rtt
    p50, p99 = statistics.median(timings), percentile(timings, 0.99)
    kind = "PostgreSQL" if args.postgres else "SQLite"
    print(f"taps: {len(timings)} ({kind} server on 127.0.0.1, vpcd virtual reader)")
    print(f"p50 {p50 * 1000:.1f} ms   p99 {p99 * 1000:.1f} ms")
    print(f"APDUs per tap: {per_tap:g} (UID 1, read {per_tap - 4:g} = 2 x (load key + auth) + 6 blocks, write-back 3)")
    print(f"APDU round trip {apdu_rtt * 1000:.2f} ms, HTTP round trip (GET /terminal) {http_rtt * 1000:.2f} ms")
    print(f"floor {floor * 1000:.1f} ms = {per_tap:g} APDUs x {apdu_rtt * 1000:.2f} ms + {http_rtt * 1000:.2f} ms HTTP")
    print(
        f"card tap -> sale approved p50 {p50 * 1000:.1f} ms   target <= {TARGET_RATIO} x floor = "
        f"{TARGET_RATIO * floor * 1000:.1f} ms   p50/floor {p50 / floor:.2f}   "
        f"{'PASS' if p50 <= TARGET_RATIO * floor else 'MISS'}"
    )
    requests_per_tap = statistics.median(requests)
    waited = statistics.median(server_seconds)
    flow = "identify, sale" if args.two_requests else "the sale with the chip read"
    print(f"HTTP requests per tap: {requests_per_tap:g} ({flow}); the floor counts one read-only round trip")
    pos_floor = per_tap * apdu_rtt + waited
    medians = {category: statistics.median(values) * 1000 for category, values in parts.items()}
    print(
        f"p50 per tap: card connect (incl. UID) {medians['connect']:.1f} ms, APDUs {medians['apdus']:.1f} ms, "
        f"outbox (the sale stored, then marked sent) {medians['outbox']:.1f} ms, HTTP {waited * 1000:.1f} ms"
    )
    print(
        f"time waiting for those requests (p50) {waited * 1000:.1f} ms; POS's own share of p50 "
        f"{(p50 - pos_floor) * 1000:.1f} ms; p50 / (APDUs x rtt + those requests) {p50 / pos_floor:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
