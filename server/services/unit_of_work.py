"""The one transaction a use case owns: commit on success, roll back on any error.

A refusal that must itself be recorded (``DomainError.keeps_changes``) commits before it propagates.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from server.domain.errors import DomainError
from server.extensions import db

_depth: ContextVar[int] = ContextVar("transaction_depth", default=0)


@contextmanager
def transaction() -> Iterator[None]:
    """Run the block in one transaction; an inner block joins the outer one instead of committing."""
    depth = _depth.get()
    token = _depth.set(depth + 1)
    try:
        yield
        if depth == 0:
            db.session.commit()
        else:  # a joined use case hands back its rows as stored (defaults filled in), like a committed one
            db.session.flush()
    except DomainError as exc:
        if depth == 0 and exc.keeps_changes:
            db.session.commit()
        elif depth == 0:
            db.session.rollback()
        raise
    except BaseException:
        if depth == 0:
            db.session.rollback()
        raise
    finally:
        _depth.reset(token)


def transactional(func):
    """Make ``func`` a use case: it runs in (and owns) exactly one transaction."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with transaction():
            return func(*args, **kwargs)

    return wrapper
