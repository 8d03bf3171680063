"""Console tests hash many passwords: argon2 with small cost parameters keeps them fast (still argon2id)."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher


@pytest.fixture(autouse=True, scope="module")
def _cheap_password_hashing():
    from server.security import credentials

    original = credentials._password_hasher
    credentials._password_hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    credentials._password_hasher = original
