"""The local production topology (deploy/up.sh) under load and failures, then deploy/down.sh.

Issue 20's "done when": the topology is brought up (nginx, two gunicorn instances, a PostgreSQL primary and
its streaming replica, Redis, a jobs worker and an outbox worker); 16 client threads send 2,000 sales through
nginx, each with its own Idempotency-Key, retrying on a lost connection or a 502/503/504 with the same key
and body, as a terminal does. Meanwhile one app instance is killed (SIGKILL to its process group: a host
dying) and started again, and the outbox worker is killed and started again. At the end:

- every sale is recorded exactly once (one sale per key, no key without its sale);
- the ledgers reconcile on the primary, and on the replica once it has replayed the primary's WAL;
- every SMS and webhook delivery the sales queued reached the local stand-in receiver, none was lost;
  none arrived twice, except (at most once per killed process) a message whose sender was killed after
  the receiver had it and before it was marked sent, which another worker sends again under the same
  delivery id (webhooks: ``X-Alliance-Delivery``, the receiver's deduplication key; docs/deployment.md);
- deploy/down.sh leaves no process of the topology behind.

It uses its own clusters (initdb), not the session's database, so it runs once per CI run, in the first
pass (tests/conftest.py deselects it from the PostgreSQL pass).
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.resources import unavailable
from tests.stand_in import stand_in

# about 1.5 minutes on an idle 2-core machine; several times that on a shared one (setup.cfg's limit is 300 s)
# CI runs it in the PostgreSQL pass, which is otherwise the shorter one (tests/conftest.py)
pytestmark = [pytest.mark.postgres, pytest.mark.postgres_pass, pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parent.parent
PG_BIN = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
SALES, CLIENTS = 2000, 16
REDEEM_EVERY = 10  # one sale in ten spends a point: identify first, and the member gets an SMS
RETRY_STATUSES = {502, 503, 504, 409}  # 409: the same key still in flight on the other instance


def _needed() -> str | None:
    missing = [
        name for name in ("nginx", "redis-server") if not (shutil.which(name) or Path("/usr/sbin", name).exists())
    ]
    if not PG_BIN:
        missing.append("PostgreSQL server binaries (/usr/lib/postgresql/*/bin)")
    return f"the local topology needs {', '.join(missing)}" if missing else None


class Topology:
    """The state directory of one deploy/up.sh run and what the test reads from it."""

    def __init__(self, state: Path):
        self.state = state

    def port(self, name: str) -> int:
        return int((self.state / "run" / f"{name}.port").read_text())

    def pid(self, name: str) -> int:
        return int((self.state / "run" / f"{name}.pid").read_text())

    def kill(self, name: str) -> None:
        """SIGKILL the component and its process group, as if its host died."""
        os.killpg(self.pid(name), signal.SIGKILL)

    def start(self, name: str) -> None:
        subprocess.run([str(self.state / "bin" / f"start-{name}")], check=True, timeout=60)

    def url(self, name: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port(name)}/alliance"

    def seed(self) -> dict:
        return json.loads((self.state / "seed.json").read_text())


def request(port: int, method: str, path: str, body: dict | None, headers: dict) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = connection.getresponse()
        data = response.read()
        return response.status, json.loads(data) if data.startswith(b"{") else {}
    finally:
        connection.close()


def until_done(port: int, method: str, path: str, body: dict | None, headers: dict, tries: int = 200) -> dict:
    """Send until the server answers other than a lost connection or a gateway error (same key, same body)."""
    for _ in range(tries):
        try:
            status, answer = request(port, method, path, body, headers)
        except (OSError, http.client.HTTPException):
            time.sleep(0.05)
            continue
        if status in RETRY_STATUSES:
            time.sleep(0.05)
            continue
        assert status in (200, 201), (method, path, status, answer)
        return answer
    raise AssertionError(f"{method} {path}: no answer after {tries} tries")


class Receiver:
    """The SMS provider's and the webhook receiver's stand-in, in a process of its own (not slowed by the
    client threads: a subscription's deliveries go one at a time), writing each request to a file."""

    def __init__(self, log: Path):
        self.log = log
        self.lock = threading.Lock()
        self.count = 0

    def __call__(self, method, path, query, body, headers):
        with self.lock, self.log.open("a", encoding="utf-8") as out:
            self.count += 1
            if path == "/sms":
                payload = json.loads(body)
                out.write(json.dumps(["sms", payload["phone"], payload["text"]], ensure_ascii=False) + "\n")
                return 200, {"message_id": f"m{self.count}"}
            out.write(json.dumps(["hook", headers["X-Alliance-Delivery"]]) + "\n")
            return 200, {}

    def serve(self, urls) -> None:
        with stand_in(self) as (url, _seen):
            urls.put(url)
            threading.Event().wait()

    def received(self) -> tuple[list[tuple[str, str]], list[str]]:
        """(phone, text) of every SMS and the delivery id of every webhook request, in order."""
        sms, hooks = [], []
        for line in self.log.read_text(encoding="utf-8").splitlines():
            kind, *values = json.loads(line)
            if kind == "sms":
                sms.append(tuple(values))
            else:
                hooks.append(values[0])
        return sms, hooks


@contextmanager
def receiver_process(log: Path):
    """The receiver's URL while its process runs."""
    receiver = Receiver(log)
    context = multiprocessing.get_context("fork")
    urls = context.Queue()
    process = context.Process(target=receiver.serve, args=(urls,), daemon=True)
    process.start()
    try:
        yield receiver, urls.get(timeout=30)
    finally:
        process.kill()
        process.join(10)


@pytest.fixture
def topology():
    reason = _needed()
    if reason:
        unavailable(reason)
    state = Path(tempfile.mkdtemp(prefix="alliance-topology-"))
    state.chmod(0o755)  # PostgreSQL runs as its own user under root and must reach its data directory
    yield Topology(state)
    if (state / "run" / "up").exists():
        subprocess.run([str(ROOT / "deploy" / "down.sh")], env={**os.environ, "ALLIANCE_DEPLOY_DIR": str(state)})
    shutil.rmtree(state, ignore_errors=True)


def mask(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}"


def test_two_thousand_sales_through_nginx_survive_a_killed_app_instance_and_a_killed_worker(topology):
    started = time.monotonic()
    timings = {}
    with receiver_process(topology.state / "received.jsonl") as (receiver, receiver_url):
        extra = topology.state / "extra.env"
        extra.write_text(
            f"SMS_SENDER=http\nSMS_HTTP_URL={receiver_url}/sms\nSMS_HTTP_KEY=stand-in\n"
            "RATE_LIMITS=identify:terminal=100000/minute\n"
        )
        env = {
            **os.environ,
            "ALLIANCE_DEPLOY_DIR": str(topology.state),
            "PYTHON": sys.executable,
            "DEPLOY_ENV_EXTRA": str(extra),
            "APP_WORKERS": "1",
            "APP_THREADS": "8",
            "OUTBOX_INTERVAL": "0.2",
            "JOBS_INTERVAL": "2",  # the scheduler also sends SMS and webhooks: two workers on each outbox
        }
        up = subprocess.run([str(ROOT / "deploy" / "up.sh")], env=env, capture_output=True, text=True, timeout=300)
        assert up.returncode == 0, up.stdout + up.stderr
        assert "http://127.0.0.1:" in up.stdout
        timings["up"] = time.monotonic() - started

        nginx, seed = topology.port("nginx"), topology.seed()
        admin = {"Authorization": f"Bearer {seed['admin']['token']}", "Content-Type": "application/json"}
        # through nginx: let a card number spend points, and subscribe the receiver to every sale
        until_done(nginx, "PATCH", "/api/v1/alliance", {"spend_requires_proof": False}, admin)
        hook = {"name": "ERP", "url": f"{receiver_url}/hook", "event_types": ["sale.recorded"]}
        until_done(nginx, "POST", "/api/v1/webhook-subscriptions", hook, {**admin, "Idempotency-Key": "hook-1"})
        time.sleep(2.1)  # each instance reads the subscriptions again within 2 s (SUBSCRIPTIONS_TTL_SECONDS)

        primary = create_engine(topology.url("pg-primary"))
        with primary.connect() as db:
            sales_before = db.scalar(text("SELECT count(*) FROM sales"))
            sms_before = db.scalar(text("SELECT coalesce(max(id), 0) FROM sms_messages"))

        tokens = [merchant["terminal_token"] for merchant in seed["merchants"]]
        cards = [member["card_no"] for member in seed["members"]]
        answers: dict[str, str] = {}
        done = Counter()
        lock = threading.Lock()

        def client(index: int) -> None:
            rng = random.Random(index)
            auth = {"Authorization": f"Bearer {tokens[index % len(tokens)]}", "Content-Type": "application/json"}
            for number in range(index, SALES, CLIENTS):
                key = f"topology-{number:05d}"
                card = rng.choice(cards)
                if number % REDEEM_EVERY == 0:
                    token = until_done(nginx, "POST", "/api/v1/identify", {"code": card}, auth)["identification"]
                    sale = {"identification_token": token["token"], "amount_fen": 5_000, "redeem_points": 1}
                else:
                    sale = {"code": card, "amount_fen": rng.randint(1_000, 30_000), "redeem_points": 0}
                answer = until_done(nginx, "POST", "/api/v1/sales", sale, {**auth, "Idempotency-Key": key})
                with lock:
                    answers[key] = answer["sale"]["id"]
                    done["sales"] += 1

        def chaos() -> None:
            def when(count: int) -> None:
                while done["sales"] < count:
                    time.sleep(0.02)

            when(400)
            topology.kill("app1")  # mid-traffic: requests in flight on it are lost, clients retry
            time.sleep(1.0)
            topology.start("app1")
            when(900)
            topology.kill("worker-outbox")
            time.sleep(0.5)
            topology.start("worker-outbox")

        threads = [threading.Thread(target=client, args=(index,)) for index in range(CLIENTS)]
        chaos_thread = threading.Thread(target=chaos)
        sales_started = time.monotonic()
        for thread in [*threads, chaos_thread]:
            thread.start()
        for thread in [*threads, chaos_thread]:
            thread.join(timeout=600)
        timings["sales"] = time.monotonic() - sales_started
        print(f"topology: up {timings['up']:.1f} s, {SALES} sales in {timings['sales']:.1f} s")

        # every sale recorded exactly once: a sale per key, each key's sale its own
        assert len(answers) == SALES and len(set(answers.values())) == SALES
        with primary.connect() as db:
            assert db.scalar(text("SELECT count(*) FROM sales")) - sales_before == SALES
            keys = db.scalar(text("SELECT count(*) FROM idempotency_records WHERE key LIKE 'topology-%'"))
            assert keys == SALES
            stored = set(db.scalars(text("SELECT id FROM sales WHERE id = ANY(:ids)"), {"ids": list(answers.values())}))
            assert stored == set(answers.values())

        # the outboxes drain: nothing pending, nothing given up
        deadline = time.monotonic() + 120
        while True:
            with primary.connect() as db:
                pending = db.scalar(
                    text(
                        "SELECT (SELECT count(*) FROM sms_messages WHERE status = 'pending' AND id > :sms) "
                        "+ (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending')"
                    ),
                    {"sms": sms_before},
                )
            if not pending or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert pending == 0
        with primary.connect() as db:
            deliveries = dict(db.execute(text("SELECT delivery_id, status FROM webhook_deliveries")).all())
            sales_sms = db.execute(
                text("SELECT status FROM sms_messages WHERE id > :sms AND template = 'points_spent'"),
                {"sms": sms_before},
            ).all()
            sms_rows = db.execute(  # also messages the jobs queued (alerts): what the stand-in was sent
                text("SELECT phone_masked, text, status FROM sms_messages WHERE sender = 'http'")
            ).all()
        timings["drained"] = time.monotonic() - started

        # no message lost or sent twice (but for a sender killed mid-request: see the module's docstring)
        assert len(deliveries) == SALES and set(deliveries.values()) == {"delivered"}
        received_sms, received_hooks = receiver.received()
        received = Counter(received_hooks)
        assert set(received) == set(deliveries)
        webhook_repeats = sum(count - 1 for count in received.values())
        assert webhook_repeats <= 1, received.most_common(3)
        assert len(sales_sms) == SALES // REDEEM_EVERY and {row.status for row in sales_sms} == {"sent"}
        assert {row.status for row in sms_rows} == {"sent"}
        sent = Counter((mask(phone), body) for phone, body in received_sms)
        expected = Counter((row.phone_masked, row.text) for row in sms_rows)
        assert set(sent) == set(expected) and all(sent[item] >= expected[item] for item in expected)
        sms_repeats = sum(sent.values()) - sum(expected.values())
        assert sms_repeats <= 2, sent - expected  # an app instance and the outbox worker were killed

    # the ledgers reconcile on the primary and, once it has replayed the primary's WAL, on the replica
    with primary.connect() as db:
        target = db.scalar(text("SELECT pg_current_wal_lsn()"))
    replica = create_engine(topology.url("pg-replica"))
    deadline = time.monotonic() + 60
    with replica.connect() as db:
        while not db.scalar(text("SELECT pg_last_wal_replay_lsn() >= CAST(:lsn AS pg_lsn)"), {"lsn": target}):
            assert time.monotonic() < deadline, "the replica did not catch up within 60 s"
            time.sleep(0.1)
            db.rollback()
        assert db.scalar(text("SELECT pg_is_in_recovery()"))
    figures = []
    for engine in (primary, replica):
        with engine.connect() as db:
            figures.append(
                db.execute(
                    text(
                        "SELECT (SELECT count(*) FROM sales), (SELECT sum(amount_fen) FROM sales), "
                        "(SELECT count(*) FROM ledger_entries), (SELECT sum(balance) FROM ledger_accounts)"
                    )
                ).one()
            )
    assert figures[0] == figures[1]
    for name in ("pg-primary", "pg-replica"):
        assert reconcile_today(topology.url(name)) == [], name
    primary.dispose()
    replica.dispose()

    # down.sh stops exactly what up.sh started, and nothing of it is left
    pids = {name: topology.pid(name) for name in (topology.state / "run" / "up").read_text().split()}
    down = subprocess.run(
        [str(ROOT / "deploy" / "down.sh")],
        env={**os.environ, "ALLIANCE_DEPLOY_DIR": str(topology.state)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert down.returncode == 0, down.stderr
    assert not (topology.state / "run" / "up").exists()
    assert left_behind(topology.state, pids.values()) == []
    for worker in ("worker-jobs", "worker-outbox"):  # SIGTERM ended them cleanly, not down.sh's SIGKILL
        assert "工作进程已停止" in (topology.state / "logs" / f"{worker}.log").read_text()
    timings["total"] = time.monotonic() - started
    print("topology timings (s): " + ", ".join(f"{name} {seconds:.1f}" for name, seconds in timings.items()))
    print(f"repeats after kills: webhooks {webhook_repeats}, SMS {sms_repeats}")


def reconcile_today(url: str) -> list[str]:
    """The reconciliation of the current business day (not closed yet) and of the ledgers overall."""
    from server import create_app
    from server.config import TestingConfig
    from server.extensions import db
    from server.services import reconciliation
    from server.services.settlement import current_business_day

    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        day = current_business_day()
        differences = (
            reconciliation.check_ledger_against_sales(day)
            + reconciliation.check_merchant_balances()
            + reconciliation.check_ledger_balanced()
            + reconciliation.check_commissions(day)
            + reconciliation.check_money_ledger_balanced()
        )
        db.session.remove()
        db.engine.dispose()
    return [str(difference) for difference in differences]


def left_behind(state: Path, pids) -> list[str]:
    """Processes still alive (not zombies) that up.sh started or that name the state directory."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = status[status.rindex(")") + 2 :].split()
        if fields[0] == "Z":
            continue
        pgid = int(fields[2])
        if int(entry.name) in pids or pgid in pids or str(state) in command:
            found.append(f"{entry.name} {command}")
    return found
