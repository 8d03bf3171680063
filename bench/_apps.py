"""A server app on a scratch database for the benchmarks that build their own data."""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text


@contextmanager
def scratch_app(database_url: str, name: str) -> Iterator[tuple[object, str]]:
    """``(app, url)`` with the tables created on a temporary SQLite file, or, for a PostgreSQL
    ``database_url``, in a new schema of that database, dropped afterwards."""
    from server import create_app
    from server.config import TestingConfig, normalize_database_url
    from server.extensions import db

    schema = None
    options: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite:///{tmp}/{name}.db"
        if url.startswith("postgres"):
            url = normalize_database_url(url)
            schema = f"bench_{secrets.token_hex(4)}"
            with create_engine(url).begin() as connection:
                connection.execute(text(f'CREATE SCHEMA "{schema}"'))
            options = {"connect_args": {"options": f"-csearch_path={schema}"}}
        try:
            app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=url, SQLALCHEMY_ENGINE_OPTIONS=options)
            with app.app_context():
                db.metadata.create_all(db.engine)
            yield app, url
        finally:
            if schema:
                with create_engine(url).begin() as connection:
                    connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
