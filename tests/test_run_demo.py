"""``python run.py`` as a developer runs it: migrate, seed, serve, and show login codes in its console."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from tests.pos.pos_helpers import free_port

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SMS_LINE = re.compile(r"SMS to (1\d\d\*{4}\d{4}): .*?(\d{6})")


def test_run_py_shows_the_login_sms_with_its_code_and_the_code_logs_in(tmp_path):
    """The README's promise: in development the SMS code is written to the server's console output.

    run.py migrates with Alembic first, whose logging set-up used to silence every logger that existed.
    """
    port = free_port()
    # as a developer's shell: no test database, the default sender, and not inside a `flask` command (an
    # in-process CLI test leaves FLASK_RUN_FROM_CLI set, which makes app.run() return at once)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "SMS_SENDER"} and not key.startswith("FLASK_")
    }
    env.update(ALLIANCE_INSTANCE_DIR=str(tmp_path), ALLIANCE_ENV="development", PORT=str(port), PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    process = subprocess.Popen(
        [sys.executable, "run.py"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True)
    reader.start()
    base = f"http://127.0.0.1:{port}"
    try:
        session = requests.Session()
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "".join(lines)
            try:
                page = session.get(f"{base}/m/login", timeout=5)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "".join(lines)
                time.sleep(0.2)
        phone = json.loads((tmp_path / "demo-credentials.json").read_text())["members"][0]["phone"]
        csrf = re.search(r'data-csrf="([^"]+)"', page.text).group(1)
        code_url, headers = f"{base}/m/api/login-code", {"X-CSRFToken": csrf}
        sent = session.post(code_url, json={"phone": phone}, headers=headers, timeout=10)
        assert sent.status_code == 200, sent.text
        found, sms_deadline = None, time.monotonic() + 10  # the request itself sent it: the line is there by now
        while found is None and time.monotonic() < sms_deadline:
            found = next((match for line in list(lines) if (match := SMS_LINE.search(line))), None)
            time.sleep(0.1)
        assert found is not None, "no SMS in the console output:\n" + "".join(lines)
        assert found.group(1) == f"{phone[:3]}****{phone[-4:]}"  # the phone masked, the code readable

        form = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
        login = session.post(
            f"{base}/m/login",
            data={"csrf_token": form, "phone": phone, "code": found.group(2)},
            allow_redirects=False,
            timeout=10,
        )
        assert login.status_code == 302 and login.headers["Location"].endswith("/m/card"), login.text
    finally:
        process.terminate()
        process.wait(timeout=10)
        reader.join(timeout=5)
