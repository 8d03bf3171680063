"""CI's PostgreSQL pass (ALLIANCE_TESTS_DATABASE_ONLY=1) runs the tests that use the session's database
and no others: tests without a database, PostgreSQL-only tests the SQLite pass already ran on PostgreSQL,
and tests of what Chromium or the Tk window shows, run once. A test marked ``postgres_pass`` runs in the
PostgreSQL pass instead of the SQLite pass (ALLIANCE_TESTS_SQLITE_PASS=1)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
USES_THE_DATABASE = [
    "tests/api/test_idempotency.py::test_keys_are_scoped_per_terminal",  # client
    "tests/test_cli.py::test_help_lists_the_commands",  # a fixture built on app
    "tests/member/test_member_integrations.py::test_rate_limits_shared_through_redis_between_workers",  # database
    # marked postgres_pass
    "tests/test_deploy_topology.py::"
    "test_two_thousand_sales_through_nginx_survive_a_killed_app_instance_and_a_killed_worker",
]
NO_DATABASE_OR_POSTGRES_ONLY = [
    "tests/test_card_layout_vectors.py::test_keys_differ_per_card_and_per_key_version",  # pure
    "tests/console/test_console_paging.py::test_all_rows_stops_at_the_limit",  # pure
    "tests/services/test_locks_postgres.py::test_lock_keys_depend_on_the_schema_and_the_lock_name",  # pg_app only
    "tests/api/test_idempotency.py::test_twenty_concurrent_identical_sales_commit_once[pg_app]",  # chosen at run time
    "tests/console/test_console_layout_browser.py::test_every_console_page_fits_the_screen[390]",  # Chromium
    "tests/pos/test_gui.py::test_a_whole_sale_in_the_cashier_window",  # the Tk window
]


def collected(**env: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
        + USES_THE_DATABASE
        + NO_DATABASE_OR_POSTGRES_ONLY,
        cwd=ROOT,
        env={**{k: v for k, v in os.environ.items() if k != "ALLIANCE_TESTS_DATABASE_ONLY"}, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr  # (also: every test named here exists)
    return [line for line in result.stdout.splitlines() if "::" in line]


def test_the_database_pass_keeps_only_tests_that_use_the_database():
    assert collected(ALLIANCE_TESTS_DATABASE_ONLY="1") == USES_THE_DATABASE


def test_the_sqlite_pass_leaves_the_postgres_pass_tests_to_the_other_pass():
    expected = [test for test in USES_THE_DATABASE + NO_DATABASE_OR_POSTGRES_ONLY if "deploy_topology" not in test]
    assert collected(ALLIANCE_TESTS_SQLITE_PASS="1") == expected
