"""Every benchmark still runs: each ``bench/*.py`` script once in its smoke mode (tiny sizes, a few seconds).

A benchmark is not a test of its figures, but one that no longer runs (a renamed service, a new rule the
seeding breaks, a rate limit it hits) rots silently; this runs each as a subprocess with ``--smoke`` and
fails on a non-zero exit or a traceback. The smoke modes keep their own checks (the checkout benchmark's
database check, the settlement totals, the dashboard's sales count), so those run too.

The benchmarks that make their own databases on a PostgreSQL server run in the PostgreSQL pass (they use
the session's ``database`` fixture and skip on SQLite); the dashboard runs on SQLite in the first pass
and on PostgreSQL in the second; the POS latency benchmark needs pcscd and the vpcd reader (it takes its
slot the way the hardware tests do).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.resources import unavailable

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted(path.stem for path in (ROOT / "bench").glob("*.py") if not path.name.startswith("_"))
# given the server with --database-url
POSTGRES_ONLY = {"agents", "benefits", "cards", "checkout", "commissions", "scale", "settlement"}
POSTGRES_TOO = {"dashboard"}  # SQLite by default; --database-url runs it on PostgreSQL
TIMEOUT_SECONDS = 120


class SmokeRun:
    """One ``python -m bench.<script> --smoke`` started in the background (the runs of a pass overlap:
    much of each is waiting, on a server starting, a measured window, pgbench)."""

    def __init__(self, script: str, *args: str):
        self.script = script
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("DATABASE_URL", None)  # the benchmark is told its database explicitly
        self.process = subprocess.Popen(
            [sys.executable, "-m", f"bench.{script}", "--smoke", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def output(self) -> str:
        """Wait for the run; fail unless it exited 0 without a traceback."""
        try:
            output, _ = self.process.communicate(timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate()
            pytest.fail(f"bench/{self.script}.py --smoke took over {TIMEOUT_SECONDS} s:\n{output[-4000:]}")
        assert self.process.returncode == 0 and "Traceback" not in output, (
            f"bench/{self.script}.py --smoke failed:\n{output[-4000:]}"
        )
        return output


@pytest.fixture(scope="module")
def smoke_runs():
    runs = {script: SmokeRun(script) for script in sorted(set(SCRIPTS) - POSTGRES_ONLY)}
    yield runs
    for run in runs.values():
        if run.process.poll() is None:
            run.process.kill()
            run.process.communicate()


@pytest.fixture(scope="module")
def postgres_smoke_runs(database):
    if not database.is_postgres:
        pytest.skip("a PostgreSQL benchmark: runs in the PostgreSQL pass (DATABASE_URL=postgresql://...)")
    scripts = sorted(set(SCRIPTS) & (POSTGRES_ONLY | POSTGRES_TOO))
    runs = {script: SmokeRun(script, "--database-url", database.url) for script in scripts}
    yield runs
    for run in runs.values():
        if run.process.poll() is None:
            run.process.kill()
            run.process.communicate()


def test_every_benchmark_has_a_smoke_mode():
    for script in SCRIPTS:
        assert "--smoke" in (ROOT / "bench" / f"{script}.py").read_text(), f"bench/{script}.py has no --smoke"


@pytest.mark.parametrize("script", sorted(set(SCRIPTS) - POSTGRES_ONLY))
def test_benchmark_runs_in_smoke_mode(script, smoke_runs):
    output = smoke_runs[script].output()
    if script == "pos_latency":
        skipped = [line for line in output.splitlines() if line.startswith("skipped:")]
        if skipped:
            unavailable(skipped[0])
        assert "card tap -> sale approved p50" in output


@pytest.mark.parametrize("script", sorted(set(SCRIPTS) & (POSTGRES_ONLY | POSTGRES_TOO)))
def test_benchmark_runs_in_smoke_mode_on_postgresql(script, postgres_smoke_runs):
    output = postgres_smoke_runs[script].output()
    if script == "benefits":
        assert "allocations/s; duplicates 0, deadlocks 0" in output and "import / COPY" in output
        assert "voucher sales / plain sales" in output
    if script == "checkout":
        assert "database check OK" in output
        assert "SQL in gunicorn identify" in output and "PostgreSQL CPU" in output
        assert "request layer  gunicorn CPU per request before any sale work: GET /healthz" in output
        assert "other answers" not in output  # every probe answered as it must (200, 422)
