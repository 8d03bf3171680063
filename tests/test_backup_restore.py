"""deploy/backup.sh and deploy/restore-check.sh, run as an operator runs them: the nightly dump of a
database with sales in it, restored into a scratch cluster (initdb on a free port) where the ledger
reconciliation passes. (That the reconciliation names what does not balance is tests/services/
test_settlement.py's; the script stops with the command's exit status, ``set -e``.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.builders import make_member, make_world
from tests.live_server import identify, next_key

PROJECT_ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def run(script: str, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(PROJECT_ROOT / "deploy" / script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_the_nightly_dump_restores_into_a_scratch_cluster_and_reconciles(pg_app, pg_database, tmp_path):
    with pg_app.app_context():
        world = make_world()
        _, card = make_member(points=300)
    client = pg_app.test_client()
    for amount in (12_000, 8_000):
        token = identify(client, world.shop_a.auth, code=card.card_no)
        sale = client.post(
            "/api/v1/sales",
            json={"identification_token": token, "amount_fen": amount, "redeem_points": 100},
            headers={**world.shop_a.auth, "Idempotency-Key": next_key()},
        )
        assert sale.status_code == 201, sale.json
    env = {
        **os.environ,
        "DATABASE_URL": pg_database.url,
        "BACKUP_DIR": str(tmp_path),
        "BACKUP_SCHEMA": pg_database.schema,
        "RESTORE_SCHEMA": pg_database.schema,
        "ALLIANCE_SERVER": f"{sys.executable} -m server.cli",
        "ALLIANCE_ENV": "testing",
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    dumped = run("backup.sh", env, "dump")
    assert dumped.returncode == 0, dumped.stderr
    assert Path(dumped.stdout.strip()).parent == tmp_path

    checked = run("restore-check.sh", env)  # the newest dump in BACKUP_DIR
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "restored alliance-" in checked.stdout and ": 2 sales," in checked.stdout
    assert "积分账本与资金账本借贷平衡" in checked.stdout

    assert not list(Path(env.get("TMPDIR", "/tmp")).glob("alliance-restore-check.*"))  # the scratch cluster is gone
