"""Put a terminal together from its configuration: server client, outbox, printer, reader, checkout core."""

from __future__ import annotations

from pathlib import Path

from alliance_shared.devices.pcsc_reader import PcscCardReader
from pos_client.checkout import Checkout
from pos_client.config import PosConfig
from pos_client.devices.printer import open_printer
from pos_client.outbox import Outbox
from pos_client.server_client import TerminalClient

# A cashier waits at most this long for the server before the sale goes offline.
SERVER_TIMEOUT_SECONDS = 4.0
SERVER_RETRIES = 1


def terminal_client(config: PosConfig) -> TerminalClient:
    """The server client with the POS's short timeout (a slow server means: sell offline).

    It asks for the server's messages in the POS's language (the server answers Chinese by default).
    """
    client = TerminalClient(config.server_url, config.token, timeout=SERVER_TIMEOUT_SECONDS, retries=SERVER_RETRIES)
    client.headers["Accept-Language"] = config.lang or "zh"
    return client


def build_checkout(config: PosConfig, config_path: Path, *, with_reader: bool = False) -> Checkout:
    """The checkout core for this terminal; the reader is opened only when asked for (card sales)."""
    printer = open_printer(config.printer)
    reader = PcscCardReader(config.reader) if with_reader else None
    return Checkout(
        terminal_client(config),
        Outbox(PosConfig.outbox_path(config_path)),
        printer,
        reader,
        width_mm=config.paper_mm,
        lang=config.lang,
    )
