"""The project's documents are in the repository and say what the code does.

Every reference points at a file a person who clones the project has: no tracked file refers to a
document outside the repository (the shared design notes the project started from), and every
``docs/*.md`` the README or any other tracked file names exists. ``docs/terminal-api.md`` names every
terminal endpoint the OpenAPI document has and every stable error code a terminal can get.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# spelled in parts so that this file does not match itself
OUTSIDE_REFERENCES = re.compile("|".join(re.escape(part) for part in ("../" + "shared", "TERMINAL" + "_API.md")))
DOC_REFERENCE = re.compile(r"\bdocs/[\w.-]+\.md\b")
TEXT_SUFFIXES = {".py", ".md", ".txt", ".cfg", ".toml", ".ini", ".yml", ".yaml", ".html", ".js", ".css", ".po", ".sh"}
# codes only the console's sign-in and the member pages give: not part of the terminal contract
NOT_TERMINAL_CODES = {
    "sign_in_failed",
    "account_locked",
    "card_check_failed",
    # the agent network's refusals (docs/agents.md): operator endpoints only
    "agent_self_upper",
    "agent_chain_cycle",
    "agent_chain_too_deep",
    "agent_rule_not_allowed",
    "territory_taken",
    "withdrawal_refused",  # agents' withdrawals (docs/agents.md): the portal and operator endpoints only
    "second_factor_required",  # the console's sign-in only
    "second_factor_wrong",
    # benefit stock (docs/benefits.md): operator endpoints and services only, until a till redeems vouchers
    "benefit_out_of_stock",
    "benefit_code_invalid",
    "benefit_stock_conflict",
    # benefit distribution (docs/benefits.md): campaigns, member pages and the partners' API, not the terminals
    "benefit_budget_exhausted",
    "benefit_not_eligible",
    "partner_signature_invalid",
    # benefit anti-fraud (docs/benefits.md, "Anti-fraud"): claims only; at a till an over-budget voucher is
    # refused as voucher_invalid
    "benefit_limit_reached",
    "benefit_second_factor_required",
}


def tracked_text_files() -> list[Path]:
    """The repository's tracked text files (``git ls-files``), those with a text suffix or no suffix."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60
        ).stdout.decode()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    paths = [ROOT / name for name in listed.split("\0") if name]
    return [path for path in paths if path.is_file() and (path.suffix in TEXT_SUFFIXES or path.name == "Makefile")]


def test_no_tracked_file_refers_to_documents_outside_the_repository():
    found = []
    for path in tracked_text_files():
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if OUTSIDE_REFERENCES.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "references to documents outside the repository:\n" + "\n".join(found)


def test_the_readme_points_at_the_architecture_and_the_terminal_contract():
    named = set(DOC_REFERENCE.findall((ROOT / "README.md").read_text(encoding="utf-8")))
    assert {"docs/architecture.md", "docs/terminal-api.md"} <= named
    missing = sorted(name for name in named if not (ROOT / name).is_file())
    assert not missing, f"README.md names documents that do not exist: {missing}"


def test_every_document_a_tracked_file_names_exists():
    missing = set()
    for path in tracked_text_files():
        for name in DOC_REFERENCE.findall(path.read_text(encoding="utf-8", errors="replace")):
            if not (ROOT / name).is_file():
                missing.add(f"{path.relative_to(ROOT)} -> {name}")
    assert not missing, "\n".join(sorted(missing))


def test_the_terminal_contract_names_every_terminal_endpoint(client):
    document = (ROOT / "docs" / "terminal-api.md").read_text(encoding="utf-8")
    spec = client.get("/api/v1/openapi.json").get_json()
    endpoints = [
        (method.upper(), path.removeprefix("/api/v1"))
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if isinstance(operation, dict) and "terminal" in operation.get("tags", ())
    ]
    assert len(endpoints) >= 10
    undocumented = [
        f"{method} {path}"
        for method, path in endpoints
        if not re.search(rf"{method} {re.escape(path)}(?![\w/{{}}-])", document)
    ]
    assert not undocumented, f"docs/terminal-api.md does not describe: {undocumented}"


def _subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub} | _subclasses(sub)
    return found


def test_the_terminal_contract_lists_every_stable_error_code(app):
    from server.api.base import HTTP_ERROR_CODES
    from server.domain.errors import DomainError

    table = dict(re.findall(r"^\| `([a-z_]+)` \| (\d{3}) \|", (ROOT / "docs" / "terminal-api.md").read_text(), re.M))
    codes = {(error.code, error.status) for error in _subclasses(DomainError)}
    codes |= {(code, status) for status, code in HTTP_ERROR_CODES.items() if code != "invalid_request" or status == 422}
    codes = {(code, status) for code, status in codes if code not in NOT_TERMINAL_CODES}
    wrong = sorted(
        f"{code} {status} (table: {table.get(code)})" for code, status in codes if table.get(code) != str(status)
    )
    assert not wrong, f"docs/terminal-api.md's error table misses or misstates: {wrong}"
