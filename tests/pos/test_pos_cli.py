"""`alliance-pos register` and `status` against a real server over HTTP."""

import json
import stat

from click.testing import CliRunner

from pos_client.cli import main
from tests.builders import make_world
from tests.live_server import live_server


def test_register_saves_token_privately_and_status_shows_the_merchant(app, tmp_path):
    with app.app_context():
        shop = make_world().shop_a
    config = tmp_path / "pos" / "config.json"
    runner = CliRunner()
    with live_server(app) as url:
        registered = runner.invoke(main, ["--config", str(config), "register", "--server", url, "--token", shop.token])
        assert registered.exit_code == 0, registered.output
        assert "甲店" in registered.output
        status = runner.invoke(main, ["--config", str(config), "status"])
    assert status.exit_code == 0, status.output
    assert "甲店" in status.output and "收银台" in status.output and "500.00" in status.output
    assert json.loads(config.read_text()) == {
        "server_url": url,
        "token": shop.token,
        "reader": None,
        "printer": "dummy",
        "paper_mm": 58,
        "lang": "zh",
    }
    assert stat.S_IMODE(config.stat().st_mode) == 0o600


def test_register_refuses_a_wrong_token_and_saves_nothing(app, tmp_path):
    with app.app_context():
        make_world()
    config = tmp_path / "config.json"
    with live_server(app) as url:
        result = CliRunner().invoke(main, ["--config", str(config), "register", "--server", url, "--token", "tt_nope"])
    assert result.exit_code == 1
    assert "本终端未获授权" in result.output and result.output.startswith("错误：")
    assert not config.exists()


def test_status_without_registration_and_with_the_server_down(tmp_path):
    config = tmp_path / "config.json"
    result = CliRunner().invoke(main, ["--config", str(config), "status"])
    assert result.exit_code == 1 and "alliance-pos register" in result.output
    config.write_text(json.dumps({"server_url": "http://127.0.0.1:9", "token": "tt_x"}))
    result = CliRunner().invoke(main, ["--config", str(config), "status"])
    assert result.exit_code == 1 and "服务器无法连接" in result.output
