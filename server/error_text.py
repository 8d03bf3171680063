"""Error texts of the API in the request's language (server/i18n.py: ``?lang=``, cookie, Accept-Language).

Messages keep English as their msgids in ``server/api/translations/zh/LC_MESSAGES/messages.po``: a domain
error's message or a marshmallow field message is looked up as is; a message built from a template
("Longer than maximum length 64.", "A batch holds 1 to 200000 cards.") matches a catalog msgid with
``{name}`` placeholders, and the translated template is filled with the same values (each translated too
when the catalog has it, e.g. a card status). A new message is covered by adding its catalog entry; an
unknown one stays English.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from babel.messages.pofile import read_po
from flask_babel import gettext

CATALOG = Path(__file__).resolve().parent / "api" / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@functools.cache
def _templates() -> tuple[tuple[re.Pattern, str], ...]:
    """(pattern, msgid) for every catalog msgid with ``{name}`` placeholders, longest first."""
    with CATALOG.open("rb") as po_file:
        msgids = [message.id for message in read_po(po_file) if isinstance(message.id, str) and message.id]
    templates = []
    for msgid in sorted(msgids, key=len, reverse=True):
        names = _PLACEHOLDER.findall(msgid)
        if not names or len(set(names)) != len(names):
            continue
        parts = _PLACEHOLDER.split(msgid)  # literal, name, literal, name, ..., literal
        pattern = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts))
        templates.append((re.compile(pattern, re.DOTALL), msgid))
    return tuple(templates)


def translate(message: str) -> str:
    """``message`` in the request's language (English when the catalog does not know it)."""
    if not isinstance(message, str) or not message:
        return message
    translated = gettext(message)
    if translated != message:
        return translated
    for pattern, msgid in _templates():
        match = pattern.fullmatch(message)
        if match:
            try:
                values = {name: gettext(value) for name, value in match.groupdict().items()}  # "lost" → 已挂失
                return gettext(msgid).format(**values)
            except (KeyError, IndexError, ValueError):  # a translation whose placeholders differ: keep English
                return message
    return message


def translate_fields(messages):
    """Marshmallow's field messages (nested dicts and lists by field name) with every text translated."""
    if isinstance(messages, dict):
        return {name: translate_fields(value) for name, value in messages.items()}
    if isinstance(messages, list):
        return [translate_fields(value) for value in messages]
    return translate(messages)
