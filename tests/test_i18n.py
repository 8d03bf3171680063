"""Language choice and catalog compilation (Flask-Babel)."""

from __future__ import annotations

from flask import Flask
from flask_babel import gettext

from server.i18n import babel, compile_catalogs, init_i18n, normalize_language, select_language


def test_language_names_are_normalized():
    assert normalize_language("zh") == "zh"
    assert normalize_language("zh-CN") == "zh"
    assert normalize_language("EN") == "en"
    assert normalize_language("fr") is None
    assert normalize_language(None) is None


def test_chinese_by_default_english_on_request_and_remembered(app, client):
    with app.test_request_context("/"):
        assert select_language() == "zh"
    with app.test_request_context("/?lang=en"):
        assert select_language() == "en"
    assert "lang=en" in client.get("/api/v1/openapi.json?lang=en").headers.get("Set-Cookie", "")
    with app.test_request_context("/", headers={"Cookie": "lang=en"}):
        assert select_language() == "en"


def test_catalogs_compile_into_the_instance_folder_and_translate(tmp_path, monkeypatch):
    source = tmp_path / "src"
    po = source / "demo" / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    po.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\nmsgid "Points"\nmsgstr "积分"\n'
    )
    monkeypatch.setattr("server.i18n.SOURCE_ROOT", source)
    assert compile_catalogs(tmp_path / "compiled") == [str(tmp_path / "compiled" / "demo")]

    app = Flask("i18n_demo", instance_path=str(tmp_path / "instance"))
    init_i18n(app)
    with app.app_context():  # Flask-Babel caches translations on the Babel instance that every app shares:
        monkeypatch.setattr(babel.domain_instance, "cache", {})  # keep this demo catalog out of later tests
    assert (tmp_path / "instance" / "translations" / "demo" / "zh" / "LC_MESSAGES" / "messages.mo").exists()
    with app.test_request_context("/"):
        assert gettext("Points") == "积分"
    with app.test_request_context("/?lang=en"):
        assert gettext("Points") == "Points"


def test_discount_filter_is_exact_in_both_languages_on_every_page(app):
    render = app.jinja_env.from_string("{{ values|map('discount')|join(' / ') }}").render
    values = [9500, 9125, 8800, 10_000]
    with app.test_request_context("/"):
        assert render(values=values) == "9.5折 / 9.125折 / 8.8折 / 无折扣"
    with app.test_request_context("/?lang=en"):
        assert render(values=values) == "5% off / 8.75% off / 12% off / No discount"
