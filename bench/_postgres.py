"""PostgreSQL helpers shared by the benchmarks: throw-away databases and a pgbench reference run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy.engine import URL, make_url

from server.config import normalize_database_url

DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TPS_PATTERN = re.compile(
    r"^tps = ([0-9.]+) \((?:without initial connection time|excluding connections establishing)\)", re.MULTILINE
)
LATENCY_PATTERN = re.compile(r"^latency average = ([0-9.]+) ms", re.MULTILINE)


def server_url(url: str) -> URL:
    """The SQLAlchemy URL (psycopg 3 driver) of the PostgreSQL server named by ``url``."""
    parsed = make_url(normalize_database_url(url))
    if not parsed.drivername.startswith("postgresql"):
        raise SystemExit(f"the benchmark needs a PostgreSQL URL, not {url!r}")
    return parsed


def database_url(base: URL, name: str) -> str:
    """``base`` pointing at database ``name``, as a string SQLAlchemy and the app accept."""
    return base.set(database=name).render_as_string(hide_password=False)


def _admin_connection(base: URL) -> psycopg.Connection:
    return psycopg.connect(**_libpq_params(base.set(database=base.database or "postgres")), autocommit=True)


def _libpq_params(url: URL) -> dict:
    params = {"host": url.host or "127.0.0.1", "port": url.port or 5432, "dbname": url.database}
    if url.username:
        params["user"] = url.username
    if url.password:
        params["password"] = url.password
    return params


def recreate_database(base: URL, name: str) -> None:
    """Drop database ``name`` if it exists (closing its sessions) and create it empty."""
    with _admin_connection(base) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def drop_database(base: URL, name: str) -> None:
    """Drop database ``name`` if it exists."""
    with _admin_connection(base) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def checkpoint(base: URL) -> None:
    """Flush dirty pages now, so a checkpoint does not land in the middle of a measurement (best effort)."""
    try:
        with _admin_connection(base) as connection:
            connection.execute("CHECKPOINT")
    except psycopg.Error:
        pass


def server_settings(base: URL) -> dict[str, str]:
    """The settings that decide commit cost, for the report."""
    names = ("server_version", "fsync", "synchronous_commit", "wal_sync_method", "shared_buffers", "max_connections")
    with _admin_connection(base) as connection:
        rows = connection.execute(
            "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s)", (list(names),)
        ).fetchall()
    return dict(rows)


@dataclass(frozen=True)
class PgbenchResult:
    """What pgbench measured."""

    tps: float
    latency_ms: float | None
    output: str


def _pgbench_command(base: URL, name: str, *args: str) -> tuple[list[str], dict]:
    executable = shutil.which("pgbench") or "/usr/bin/pgbench"
    params = _libpq_params(base)
    command = [executable, "-h", str(params["host"]), "-p", str(params["port"])]
    if "user" in params:
        command += ["-U", params["user"]]
    env = dict(os.environ)
    if "password" in params:
        env["PGPASSWORD"] = params["password"]
    return [*command, *args, name], env


def pgbench_init(base: URL, name: str, scale: int) -> None:
    """Load pgbench's TPC-B-like tables at ``scale`` into database ``name``."""
    command, env = _pgbench_command(base, name, "-i", "-q", "-s", str(scale))
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"pgbench -i failed:\n{done.stdout}{done.stderr}")


def pgbench_run(
    base: URL,
    name: str,
    clients: int,
    threads: int,
    duration: int,
    during: Callable[[subprocess.Popen], Any] | None = None,
) -> tuple[PgbenchResult, Any]:
    """Run pgbench's built-in TPC-B-like script; return its tps (without connection time) and what
    ``during(process)``, called while pgbench runs, returned."""
    command, env = _pgbench_command(
        base, name, "-c", str(clients), "-j", str(max(1, min(threads, clients))), "-T", str(duration)
    )
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        observed = during(process) if during else None
    finally:
        stdout, stderr = process.communicate()
    output = stdout + stderr
    found = TPS_PATTERN.search(output)
    if process.returncode != 0 or found is None:
        raise RuntimeError(f"pgbench failed (exit {process.returncode}):\n{output}")
    latency = LATENCY_PATTERN.search(output)
    return PgbenchResult(float(found.group(1)), float(latency.group(1)) if latency else None, output), observed
