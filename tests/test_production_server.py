"""The shipped production set-up (deploy/gunicorn.conf.py, as the README starts it) answers what gunicorn
refuses itself — a URL or header over the documented limits, a malformed request — in the API's JSON
error shape, not gunicorn's HTML page. Driven over raw sockets against a real gunicorn process.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import Database

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG = PROJECT_ROOT / "deploy" / "gunicorn.conf.py"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def exchange(port: int, raw: bytes) -> tuple[int, dict, bytes]:
    """Send ``raw`` bytes and read the whole answer (the server closes or says how long it is)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(raw)
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
            chunk = connection.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


def _length(data: bytes) -> int:
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
    for line in head.split("\r\n"):
        if line.startswith("content-length:"):
            return int(line.split(":", 1)[1])
    return 1 << 30


def request(path: str = "/api/v1/terminal", method: str = "GET", headers: dict | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


@pytest.fixture(scope="module")
def instance(tmp_path_factory):
    return tmp_path_factory.mktemp("gunicorn")


@pytest.fixture(scope="module")
def gunicorn(instance, database):
    """``gunicorn -c deploy/gunicorn.conf.py`` (two workers, on a free port) on a database of its own, of
    the session's kind (a new SQLite file or a new PostgreSQL schema), logging JSON lines to gunicorn.log."""
    own = Database(database.url if database.is_postgres else f"sqlite:///{instance / 'gunicorn.db'}")
    own.make_app()  # creates the tables
    port = free_port()
    url = own.url + (f"?options=-csearch_path%3D{own.schema}" if own.is_postgres else "")
    env = {
        **os.environ,
        "ALLIANCE_ENV": "testing",
        "ALLIANCE_INSTANCE_DIR": str(instance),
        "DATABASE_URL": url,
        "PYTHONPATH": str(PROJECT_ROOT),
        "LOG_FORMAT": "json",
        "PROMETHEUS_MULTIPROC_DIR": str(instance / "metrics"),
    }
    command = [sys.executable, "-m", "gunicorn", "-c", str(CONFIG), "--bind", f"127.0.0.1:{port}", "--workers", "2"]
    log = open(instance / "gunicorn.log", "w+")  # noqa: SIM115 - closed below
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"gunicorn exited: {(log.seek(0), log.read())[1]}"
            try:
                if exchange(port, request("/api/v1/openapi.json"))[0] == 200:
                    break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not answer within 60 s"
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
        own.drop()


def assert_json_error(answer, status: int, code: str) -> dict:
    got, headers, body = answer
    assert got == status, (got, body[:300])
    assert headers["content-type"].startswith("application/json"), headers
    error = json.loads(body)
    assert set(error) == {"error", "message", "status", "details"}
    assert (error["error"], error["status"]) == (code, status)
    assert error["message"]
    return error


def test_the_configuration_documents_the_limits():
    settings: dict = {}
    exec(CONFIG.read_text(), settings)  # noqa: S102 - our own config file
    assert settings["worker_class"] == "server.gunicorn_worker.JsonErrorWorker"
    assert settings["wsgi_app"] == "server:create_app()"
    assert (settings["limit_request_line"], settings["limit_request_field_size"]) == (4094, 8190)
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert "gunicorn -c deploy/gunicorn.conf.py" in readme
    for limit in ("4094", "8190", "64 KiB"):
        assert limit in readme


def test_an_over_long_url_is_414_in_json(gunicorn):
    error = assert_json_error(exchange(gunicorn, request("/api/v1/sales?q=" + "x" * 5_000)), 414, "uri_too_long")
    assert "4094" in error["message"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Idempotency-Key": "k" * 10_000},
        {"Authorization": "Bearer tt_" + "A" * 10_000},
        {f"X-Extra-{index}": "1" for index in range(101)},
    ],
    ids=["idempotency-key", "bearer-token", "too-many-headers"],
)
def test_over_long_or_too_many_headers_are_431_in_json(gunicorn, headers):
    assert_json_error(exchange(gunicorn, request("/api/v1/sales", "POST", headers)), 431, "headers_too_large")


def test_a_malformed_request_is_400_in_json(gunicorn):
    assert_json_error(exchange(gunicorn, b"GARBAGE\r\n\r\n"), 400, "invalid_request")


def test_within_the_limits_the_application_answers(gunicorn):
    long_key = {"Idempotency-Key": "k" * 8_000, "Authorization": "Bearer tt_" + "A" * 4_000}
    assert_json_error(exchange(gunicorn, request("/api/v1/sales", "POST", long_key)), 401, "unauthorized")
    answer = exchange(gunicorn, request("/api/v1/sales", "DELETE"))
    assert_json_error(answer, 405, "method_not_allowed")
    assert {method.strip() for method in answer[1]["allow"].split(",")} >= {"GET", "POST"}


def test_metrics_add_up_every_worker_and_logs_carry_nginx_request_id(gunicorn, instance):
    """Multiprocess mode: 12 probes spread over two workers are all in one scrape; each answer and its JSON
    log line carry the request id nginx sent."""
    for number in range(12):
        status, headers, _ = exchange(
            gunicorn, request("/healthz", headers={"X-Request-Id": f"nginx-req-{number:04d}"})
        )
        assert (status, headers["x-request-id"]) == (200, f"nginx-req-{number:04d}")
    status, _, body = exchange(gunicorn, request("/metrics"))
    assert status == 200
    line = 'alliance_request_duration_seconds_count{endpoint="observability.healthz",method="GET"} 12.0'
    assert line in body.decode().splitlines()
    assert list((instance / "metrics").glob("histogram_*.db"))  # the workers' files
    logged = [json.loads(text) for text in (instance / "gunicorn.log").read_text().splitlines() if text.startswith("{")]
    probes = [entry for entry in logged if entry.get("endpoint") == "observability.healthz"]
    assert {entry["request_id"] for entry in probes} == {f"nginx-req-{number:04d}" for number in range(12)}
