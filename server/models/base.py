"""Declarative base, naming conventions and shared column helpers."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, DateTime, MetaData, String, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, registry

from server.domain.statuses import sql_in

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    """An unguessable public id such as ``mem_Xy3...`` (96 random bits)."""
    return f"{prefix}_{secrets.token_urlsafe(12)}"


class UTCDateTime(TypeDecorator):
    """Timezone-aware datetimes stored as UTC on every backend (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Base of every model."""

    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION), type_annotation_map={datetime: UTCDateTime()}
    )


def id_column(prefix: str) -> Mapped[str]:
    """A string primary key filled with an unguessable id."""
    return mapped_column(String(24), primary_key=True, default=lambda: new_id(prefix))


def status_column(
    statuses: type[StrEnum], default: StrEnum | None = None, name: str = "status", **kwargs
) -> Mapped[str]:
    """A lifecycle status: one of ``statuses`` (server.domain.statuses), which a CHECK constraint enforces.

    ``name`` is the column's name (the constraint's SQL refers to it).
    """
    check = CheckConstraint(sql_in(name, statuses), name=name)
    return mapped_column(String(16), check, default=default, **kwargs)


def created_column() -> Mapped[datetime]:
    """A creation timestamp."""
    return mapped_column(default=utcnow)
