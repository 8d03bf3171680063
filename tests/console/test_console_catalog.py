"""The console's Chinese catalog covers every text of the console, placeholders intact."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

CONSOLE = Path(__file__).resolve().parents[2] / "server" / "console"
PLACEHOLDER = re.compile(r"%\(\w+\)s")


def console_messages() -> set[str]:
    method_map = [("templates/**.html", "jinja2"), ("**.py", "python")]
    keywords = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
    return {message for _, _, message, *_ in extract_from_dir(str(CONSOLE), method_map, keywords=keywords)}


def test_every_console_text_is_translated_with_its_placeholders():
    with (CONSOLE / "translations" / "zh" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po, locale="zh")
    messages = console_messages()
    assert len(messages) > 200
    missing = sorted(m for m in messages if catalog.get(m) is None or not catalog.get(m).string)
    assert missing == []
    for message in messages:
        assert sorted(PLACEHOLDER.findall(message)) == sorted(PLACEHOLDER.findall(catalog.get(message).string)), message
