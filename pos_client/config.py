"""The terminal's configuration file in the user's config directory; the token is readable by the user only."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import click

from pos_client.messages import PosError

DEFAULT_CONFIG_PATH = Path(click.get_app_dir("alliance-pos")) / "config.json"


class NotRegistered(PosError, click.ClickException):
    """No configuration file: the terminal was not registered (a click error, in Chinese unless re-raised)."""


@dataclass
class PosConfig:
    """Where the server is, this terminal's token, and its devices."""

    server_url: str
    token: str
    reader: str | None = None
    printer: str = "dummy"
    paper_mm: int = 58
    lang: str = "zh"

    @classmethod
    def load(cls, path: Path = DEFAULT_CONFIG_PATH) -> PosConfig:
        """Read the configuration; a missing file means the terminal is not registered yet."""
        if not path.exists():
            raise NotRegistered("not_registered", path=path)
        data = json.loads(path.read_text())
        return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})

    def save(self, path: Path = DEFAULT_CONFIG_PATH) -> None:
        """Write the configuration with user-only permissions (it holds the terminal token)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(asdict(self), handle, indent=2)
        path.chmod(0o600)

    @staticmethod
    def outbox_path(config_path: Path) -> Path:
        """The terminal's outbox database, beside its configuration file."""
        return config_path.with_name("outbox.sqlite3")
