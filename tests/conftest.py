"""App, database and client fixtures: SQLite by default, PostgreSQL when DATABASE_URL names it.

CI runs the suite twice, on SQLite and with DATABASE_URL on PostgreSQL. The second pass sets
``ALLIANCE_TESTS_DATABASE_ONLY=1``: only the tests that use the session's database (the ``database``
fixture, through ``app``, ``ctx``, ``client`` or any fixture built on them) run again; a test that uses
no database, or only PostgreSQL through ``pg_app``/``pg_database`` (which the first pass already ran on
PostgreSQL), would do the same thing twice and is deselected. So is a test of what a person sees in
Chromium or the Tk window (the ``browser`` and ``display`` fixtures): how a page or the window looks does
not depend on the database, and the same pages' and endpoints' queries run on PostgreSQL in the test
client's tests (every console, member and portal page renders there).

The two passes run side by side, so CI takes as long as the longer one: a slow PostgreSQL-only test marked
``postgres_pass`` runs in the PostgreSQL pass, and the SQLite pass (``ALLIANCE_TESTS_SQLITE_PASS=1``) leaves
it out. Without either variable (the README's test command) every test runs.
"""

from __future__ import annotations

import os
import secrets
import tempfile

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import create_engine, text

from server import create_app
from server.config import TestingConfig, normalize_database_url
from server.extensions import db
from server.services import worker_copies
from tests.resources import unavailable

# Property tests are judged by their examples, not by how fast a shared machine generates them: a test run
# beside others (CI, several worktrees) must not fail a health check on speed or a per-example deadline.
settings.register_profile("shared-machine", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("shared-machine")

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
# Rate-limit counters of this test run, also in a Redis shared with other runs: ``limiter.reset()``
# deletes only the keys under this prefix (not Flask-Limiter's default "LIMITS" of every other user).
RATE_LIMIT_STORAGE_OPTIONS = {"key_prefix": f"alliance-test-{secrets.token_hex(6)}"}


def postgres_url() -> str:
    """The PostgreSQL server tests use for what only PostgreSQL can show (real concurrency)."""
    return normalize_database_url(os.environ.get("POSTGRES_TEST_URL", DEFAULT_POSTGRES_URL))


DATABASE_ONLY_ENV = "ALLIANCE_TESTS_DATABASE_ONLY"
SQLITE_PASS_ENV = "ALLIANCE_TESTS_SQLITE_PASS"
POSTGRES_PASS_MARK = "postgres_pass"
POSTGRES_ONLY_FIXTURES = frozenset({"pg_app", "pg_database"})
SCREEN_FIXTURES = frozenset({"browser", "display"})  # Chromium, Xvfb for the Tk window


def uses_session_database(item: pytest.Item) -> bool:
    """Whether the test reaches the ``database`` fixture other than through the PostgreSQL-only fixtures."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return True  # not a test function whose fixtures pytest knows: keep it
    seen: set[str] = set()
    todo = list(info.initialnames)
    while todo:
        name = todo.pop()
        if name in seen or name in POSTGRES_ONLY_FIXTURES:
            continue
        seen.add(name)
        for fixture in info.name2fixturedefs.get(name, ()):
            todo.extend(fixture.argnames)
    return "database" in seen


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "") in {"1", "true", "yes"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """CI's passes: with ALLIANCE_TESTS_DATABASE_ONLY=1 deselect the tests whose outcome does not depend on
    DATABASE_URL, but keep those marked ``postgres_pass``; with ALLIANCE_TESTS_SQLITE_PASS=1 deselect those."""
    if _env_flag(DATABASE_ONLY_ENV):
        kept = [
            item
            for item in items
            if item.get_closest_marker(POSTGRES_PASS_MARK)
            or (uses_session_database(item) and not SCREEN_FIXTURES & set(item.fixturenames))
        ]
    elif _env_flag(SQLITE_PASS_ENV):
        kept = [item for item in items if not item.get_closest_marker(POSTGRES_PASS_MARK)]
    else:
        return
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept


def _postgres_reachable(url: str) -> str | None:
    try:
        engine = create_engine(url)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not here"
        return f"PostgreSQL not reachable at {url}: {exc.__class__.__name__}"


class Database:
    """A throw-away database for one test session: a SQLite file or a fresh PostgreSQL schema."""

    def __init__(self, url: str):
        self.url = url
        self.schema = None
        self.engine_options: dict = {}
        if url.startswith("postgresql"):
            self.schema = f"t_{secrets.token_hex(6)}"
            admin = create_engine(url)
            with admin.begin() as connection:
                connection.execute(text(f'CREATE SCHEMA "{self.schema}"'))
            admin.dispose()
            self.engine_options = {
                "connect_args": {"options": f"-csearch_path={self.schema}"},
                "pool_size": 30,
                "max_overflow": 30,
            }

    @property
    def is_postgres(self) -> bool:
        return self.schema is not None

    def make_app(self, **overrides):
        """A testing app on this database with the schema created."""
        app = create_app(
            TestingConfig,
            SQLALCHEMY_DATABASE_URI=self.url,
            SQLALCHEMY_ENGINE_OPTIONS=self.engine_options,
            **{"RATELIMIT_STORAGE_OPTIONS": RATE_LIMIT_STORAGE_OPTIONS, **overrides},
        )
        with app.app_context():
            db.metadata.create_all(db.engine)
        return app

    def drop(self):
        if self.schema:
            admin = create_engine(self.url)
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{self.schema}" CASCADE'))
            admin.dispose()


def wipe(app) -> None:
    """Delete every row, children first, and on PostgreSQL restart the sequences a test used.

    DELETE, not TRUNCATE: the small data tests build goes in well under a millisecond a table, where a
    TRUNCATE of every table takes an exclusive lock on each and new files for each (more than a second a
    test, most of the PostgreSQL pass). The app's per-worker copies of the alliance settings and terminal
    credentials (the sale's hot path) go too: they would otherwise outlive the rows they copy by up to
    their time to live."""
    worker_copies.forget_all(app)
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as connection:
            for table in reversed(db.metadata.sorted_tables):
                connection.execute(table.delete())
            if connection.dialect.name == "postgresql":
                connection.execute(text(RESTART_USED_SEQUENCES))


# ids start at 1 in every test, as after TRUNCATE ... RESTART IDENTITY (a sequence not read since its
# restart has no last_value)
RESTART_USED_SEQUENCES = """
SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, 1, false)
FROM pg_sequences WHERE schemaname = current_schema() AND last_value IS NOT NULL
"""


@pytest.fixture(scope="session")
def database(tmp_path_factory):
    url = os.environ.get("DATABASE_URL")
    if url:
        url = normalize_database_url(url)
        if url.startswith("postgresql") and (reason := _postgres_reachable(url)):
            pytest.exit(f"DATABASE_URL is set but {reason}", returncode=3)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    database = Database(url)
    yield database
    database.drop()


@pytest.fixture(scope="session")
def app(database):
    """The application under test, on the session's database."""
    return database.make_app()


@pytest.fixture(autouse=True)
def _clean_database(request):
    """Every test starts from empty tables in whichever apps it used."""
    yield
    for name in ("app", "pg_app"):
        if name in request.fixturenames:
            wipe(request.getfixturevalue(name))


@pytest.fixture
def ctx(app):
    """An application context for calling services directly."""
    with app.app_context():
        yield
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def pg_database(database):
    """A PostgreSQL database even when the main run is on SQLite (skips locally without it, fails in CI)."""
    if database.is_postgres:
        yield database
        return
    url = postgres_url()
    if reason := _postgres_reachable(url):
        unavailable(reason)
    pg = Database(url)
    yield pg
    pg.drop()


@pytest.fixture(scope="session")
def pg_app(pg_database, database, app):
    """The application on PostgreSQL (the main app when the run is on PostgreSQL)."""
    return app if pg_database is database else pg_database.make_app()


@pytest.fixture(scope="session")
def scratch_dir():
    with tempfile.TemporaryDirectory() as path:
        yield path


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright (skips locally without it, fails in CI)."""
    from tests.browser import chromium_path

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install -e '.[test]')")
    executable = chromium_path()
    if executable is None:
        unavailable("Chromium is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Each test starts with empty rate-limit counters (the limiter's memory storage outlives one app)."""
    from server.ratelimit import limiter

    if getattr(limiter, "_storage", None) is not None:
        limiter.reset()
    yield
