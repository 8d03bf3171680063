"""The checks CI runs besides the tests, run by the test command itself: ruff (lint and format) and
import-linter's layering contracts from setup.cfg (the server imports no client, clients import no
server, domain rules import neither Flask nor SQLAlchemy, the card layout imports no application package,
the console imports nothing from the API, the POS and the card tools are independent, the shared package
imports no application package and its rules are pure, views reach the database only through services).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = (
    "The server imports no client",
    "Clients import no server (the HTTP API is the contract)",
    "Domain rules import neither Flask nor SQLAlchemy",
    "The card layout imports no application package",
    "The console imports nothing from the API",
    "The POS and the card tools are independent",
    "The shared package imports no application package",
    "The shared rules import no framework, I/O library or device",
    "Views reach the database only through services",
    "Services never choose the replica",
)
LINT_IMPORTS = "from importlinter.cli import lint_imports_command; lint_imports_command()"


def lint_imports(project: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` on ``project`` (its setup.cfg, its packages), without writing a cache into it."""
    return subprocess.run(
        [sys.executable, "-c", LINT_IMPORTS, "--no-cache", "--no-logo"],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(project)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_import_contracts_hold():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    for contract in CONTRACTS:  # every contract is configured and checked
        assert f"{contract} KEPT" in result.stdout, result.stdout


def test_the_import_contracts_catch_each_violation(tmp_path):
    shutil.copy(ROOT / "setup.cfg", tmp_path / "setup.cfg")
    modules = {
        "server/__init__.py": "",
        "server/domain/__init__.py": "",
        "server/domain/rule.py": "import flask\nfrom sqlalchemy import select\n",
        "server/views.py": "from pos_client import checkout\n",
        "server/api/__init__.py": "",
        "server/api/auth.py": "",
        "server/console/__init__.py": "from server.api.auth import *\n",
        "pos_client/__init__.py": "",
        "pos_client/checkout.py": "from server.domain import rule\n",
        "card_tools/__init__.py": "import pos_client\n",
        "card_layout/__init__.py": "from server import views\n",
        "alliance_shared/__init__.py": "",
        "alliance_shared/errors.py": "",
        "alliance_shared/money.py": "import requests\n",
        "alliance_shared/pricing.py": "from pos_client import checkout\n",
        "alliance_shared/voucher_codes.py": "",
        "alliance_shared/http_client.py": "",
        "alliance_shared/devices/__init__.py": "",
        "server/extensions.py": "",
        "server/database.py": "",
        "server/console/views/__init__.py": "from server.extensions import db\n",
        "server/member/__init__.py": "",
        "server/member/views.py": "from server.extensions import api\n",
        "server/agent_portal/__init__.py": "",
        "server/agent_portal/views.py": "from server.extensions import api\n",
        "server/replica.py": "",
        "server/services/__init__.py": "",
        "server/services/health.py": "from server import replica\n",
        "server/services/sales.py": "from server.replica import reading_replica\n",
        "server/payouts/__init__.py": "",
        "server/notifications/__init__.py": "",
    }
    for path, source in modules.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(source)
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    for contract in CONTRACTS:
        assert f"{contract} BROKEN" in result.stdout, result.stdout
    assert "server.domain.rule -> flask" in result.stdout and "server.domain.rule -> sqlalchemy" in result.stdout
    assert "server.console.views -> server.extensions" in result.stdout
    assert "alliance_shared.money -> requests" in result.stdout
    assert "server.services.sales -> server.replica" in result.stdout


def test_ruff_finds_nothing_to_fix_or_reformat():
    for command in (["check", "."], ["format", "--check", "."]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *command], cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, f"ruff {' '.join(command)}:\n{result.stdout}{result.stderr}"


def test_settings_have_their_defaults_in_one_place():
    """server/config.py sets every setting's default; no module repeats one (``config.get(NAME, default)``
    with a default other than ``Config.NAME``)."""
    from server.config import Config

    names = "|".join(name for name in dir(Config) if name.isupper())
    repeated = re.compile(rf"""config\.(?:get\(|setdefault\()\s*["']({names})["']\s*,(?!\s*Config\.\1\))""")
    found = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in (ROOT / "server").rglob("*.py")
        if path != ROOT / "server" / "config.py"
        for match in repeated.finditer(path.read_text(encoding="utf-8"))
    ]
    assert found == []
