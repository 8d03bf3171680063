"""User-facing languages: Simplified Chinese by default, English on request (Flask-Babel).

Each feature keeps its own catalog at ``server/<feature>/translations/zh/LC_MESSAGES/messages.po``
with English msgids. Catalogs are compiled to ``.mo`` under the instance folder when the app starts
(compiled files are build products and never committed); Flask-Babel merges them all.

The same English word can need different Chinese in two areas ("Name" is 昵称 for a member, 名称 for a
merchant). An area that registers itself with :func:`use_area_catalog` has its own catalog merged last on
its pages, so its translations win there and nowhere else.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from urllib.parse import urlencode

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, current_app, has_request_context, request
from flask_babel import Babel, Domain, get_locale

from server.config import Config

SUPPORTED_LANGUAGES = {"zh": "简体中文", "en": "English"}
DEFAULT_LANGUAGE = "zh"  # Simplified Chinese; catalogs live in translations/zh/
LANGUAGE_COOKIE = "lang"
CLI_LANGUAGE_ENV = "ALLIANCE_LANG"  # the language of what runs outside a request (`alliance-server --lang`)
API_PREFIX = "/api/"
LANGUAGE_ALIASES = {"zh": "zh", "zh_cn": "zh", "zh_hans": "zh", "zh_hans_cn": "zh", "en": "en", "en_us": "en"}
SOURCE_ROOT = Path(__file__).resolve().parent

babel = Babel()


def normalize_language(value: str | None) -> str | None:
    """A supported language code for what a user asked for (``zh``, ``zh-CN``, ``en``...), else None."""
    if not value:
        return None
    return LANGUAGE_ALIASES.get(value.strip().lower().replace("-", "_"))


def _accepted_language() -> str | None:
    """The first supported language of the ``Accept-Language`` header (``en-GB`` counts as ``en``)."""
    for value, _quality in request.accept_languages:  # best first
        language = normalize_language(value) or normalize_language(value.split("-")[0])
        if language:
            return language
    return None


def select_language() -> str:
    """The language of this request: ``?lang=`` first, then the ``lang`` cookie, then Chinese. Outside a
    request (the CLI, a job), ``ALLIANCE_LANG``, else Chinese.

    API requests (terminals, tools: no cookie) also follow their ``Accept-Language`` header; pages do
    not, so a browser set to English still shows the console and member pages in Chinese by default.
    """
    if not has_request_context():
        return normalize_language(os.environ.get(CLI_LANGUAGE_ENV)) or DEFAULT_LANGUAGE
    return (
        normalize_language(request.args.get("lang"))
        or normalize_language(request.cookies.get(LANGUAGE_COOKIE))
        or (_accepted_language() if request.path.startswith(API_PREFIX) else None)
        or DEFAULT_LANGUAGE
    )


def _remember_language(response):
    """Keep a language chosen with ``?lang=`` for the next pages."""
    chosen = normalize_language(request.args.get("lang"))
    if chosen and chosen != normalize_language(request.cookies.get(LANGUAGE_COOKIE)):
        response.set_cookie(LANGUAGE_COOKIE, chosen, max_age=365 * 24 * 3600, samesite="Lax")
    return response


def language_switch_url(language: str) -> str:
    """The current page's URL in ``language``."""
    args = request.args.to_dict()
    args["lang"] = language
    return f"{request.path}?{urlencode(args)}"


def compile_catalogs(target: Path) -> list[str]:
    """Compile every feature's ``.po`` into ``target/<feature>``; return the catalog directories."""
    directories = []
    for po_path in sorted(SOURCE_ROOT.glob("*/translations/*/LC_MESSAGES/*.po")):
        feature = po_path.relative_to(SOURCE_ROOT).parts[0]
        locale_dir = po_path.parent.parent.name
        mo_path = target / feature / locale_dir / "LC_MESSAGES" / po_path.with_suffix(".mo").name
        if not mo_path.exists() or mo_path.stat().st_mtime < po_path.stat().st_mtime:
            mo_path.parent.mkdir(parents=True, exist_ok=True)
            with po_path.open("rb") as po_file:
                catalog = read_po(po_file, locale=locale_dir)
            # Write then rename, so a second worker starting at the same moment never reads half a file.
            with tempfile.NamedTemporaryFile("wb", dir=mo_path.parent, delete=False) as tmp:
                write_mo(tmp, catalog)
            os.replace(tmp.name, mo_path)
        if str(target / feature) not in directories:
            directories.append(str(target / feature))
    return directories


def area_domain(app: Flask, feature: str) -> Domain:
    """A translation domain with every catalog, ``feature``'s merged last so that its translations win."""
    domains = app.extensions.setdefault("alliance_area_domains", {})
    if feature not in domains:
        directories = app.config["BABEL_TRANSLATION_DIRECTORIES"].split(";")
        own = [d for d in directories if Path(d).name == feature]
        domains[feature] = Domain(translation_directories=[d for d in directories if d not in own] + own)
    return domains[feature]


def use_area_catalog(blueprint, feature: str) -> None:
    """Translate ``blueprint``'s pages with ``feature``'s catalog first (see the module docstring)."""

    @blueprint.before_request
    def _area_translations():
        area_domain(current_app, feature).as_default()


def init_i18n(app: Flask) -> None:
    """Compile the catalogs, configure Flask-Babel and expose the language helpers to templates."""
    directories = compile_catalogs(Path(app.instance_path) / "translations")
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", app.config.get("ALLIANCE_TIMEZONE", Config.ALLIANCE_TIMEZONE))
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(directories) or str(SOURCE_ROOT / "translations")
    babel.init_app(app, locale_selector=select_language)
    app.after_request(_remember_language)
    app.jinja_env.globals.update(
        SUPPORTED_LANGUAGES=SUPPORTED_LANGUAGES,
        language_switch_url=language_switch_url,
        current_language=lambda: str(get_locale()),
    )
