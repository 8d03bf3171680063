"""`alliance-pos`: the terminal's command line."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from pos_client.config import DEFAULT_CONFIG_PATH, PosConfig
from pos_client.server_client import ApiError, ServerUnreachable, TerminalClient

console = Console()


@click.group()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=DEFAULT_CONFIG_PATH,
    show_default=True,
    help="Configuration file.",
)
@click.pass_context
def main(ctx, config_path):
    """AllianceCard POS terminal."""
    ctx.obj = config_path


def _client(config: PosConfig) -> TerminalClient:
    return TerminalClient(config.server_url, config.token)


def _whoami(client: TerminalClient) -> dict:
    try:
        return client.whoami()
    except ServerUnreachable as exc:
        raise click.ClickException(f"服务器无法连接 / server unreachable: {exc}") from exc
    except ApiError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc


@main.command()
@click.option("--server", "server_url", required=True, help="Server base URL, e.g. http://127.0.0.1:5000")
@click.option("--token", required=True, help="The terminal token shown once when the terminal was created.")
@click.pass_obj
def register(config_path, server_url, token):
    """Check the token with the server and save this terminal's configuration."""
    config = PosConfig(server_url=server_url, token=token)
    info = _whoami(_client(config))
    config.save(config_path)
    console.print(f"已登记 / registered: {info['merchant']['name']} · {info['terminal']['name']} → {config_path}")


@main.command()
@click.pass_obj
def status(config_path):
    """Show the server, terminal and merchant this POS works for."""
    config = PosConfig.load(config_path)
    info = _whoami(_client(config))
    limits = info["offline_limits"]
    console.print(f"服务器 / server: {config.server_url} (在线 / online, {info['server_time']})")
    console.print(f"商户 / merchant: {info['merchant']['name']} ({info['merchant']['address']})")
    console.print(f"终端 / terminal: {info['terminal']['name']} ({info['terminal']['id']})")
    console.print(f"联盟 / alliance: {info['alliance']['name']}, 1 积分 = {info['alliance']['point_value_fen']} 分")
    console.print(
        f"离线限额 / offline limits: ≤ {limits['max_sale_fen'] / 100:.2f} 元/笔, "
        f"{limits['max_sales_per_shift']} 笔/班, {limits['max_age_hours']} h"
    )
