"""Every console page in Chinese: rendered as an administrator with data of every kind, no English text leaks.

The pages are enumerated from the console blueprint's GET routes (tests/console/support.py), so a new page
is covered without editing this test.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from tests.console.support import (
    build_console_world,
    every_console_page,
    page_text,
    seed_every_kind_of_object,
    sign_in,
)

# Words that stay as they are in Chinese text: product and format names, units and the seeded test data.
ALLOWED_WORDS = {"AllianceCard", "API", "CSV", "PDF", "XLSX", "QR", "UID", "TOTP", "PNG", "English", "ID"}
ENGLISH_RUN = re.compile(r"\b[A-Za-z][a-z]+(?:[ ,.'-]+[A-Za-z][a-z]+)+\b")  # two or more English words
LONE_WORD = re.compile(r"^[a-z]+(?:[_.][a-z]+)*$")  # a whole text that is one code word: "created", "card.replace"


class VisibleText(HTMLParser):
    """The texts a person sees in the page's language: text nodes and placeholders and labels, except in
    <script>/<style>/<code> and in elements marked ``translate="no"`` (names, usernames, what people typed)."""

    HIDDEN = {"script", "style", "code", "title"}
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}

    def __init__(self):
        super().__init__()
        self.texts: list[str] = []
        self._depth = 0  # open elements since the outermost hidden one (0: not hidden)

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID:
            if not self._depth:
                self.texts.extend(value for name, value in attrs if name in {"placeholder", "aria-label"} and value)
            return
        if self._depth:
            self._depth += 1
        elif tag in self.HIDDEN or ("translate", "no") in attrs:
            self._depth = 1
        else:
            self.texts.extend(value for name, value in attrs if name in {"placeholder", "aria-label"} and value)

    def handle_endtag(self, tag):
        if self._depth and tag not in self.VOID:
            self._depth -= 1

    def handle_data(self, data):
        if not self._depth and data.strip():
            self.texts.append(data.strip())


def untranslated(html: str) -> list[str]:
    """English words a Chinese page shows (runs of two or more, or a lone code word), allow-list removed."""
    parser = VisibleText()
    parser.feed(html)
    found = []
    for text in parser.texts:
        if LONE_WORD.match(text):
            found.append(text)
            continue
        for run in ENGLISH_RUN.findall(text):
            if not set(re.split(r"[ ,.'-]+", run)) <= ALLOWED_WORDS:
                found.append(run)
    return found


def test_the_detector_finds_english_sentences_and_code_words_but_not_names_or_amounts():
    html = (
        "<p>卡片已挂失。</p><div>The card is already lost.</div><td>created</td><td>card.replace</td>"
        "<td>¥2,700.00</td><td>AllianceCard API</td><code>mem_abc def</code><span>8860 0000 0077</span>"
        '<a translate="no" title="staff:usr_1">admin <b>user</b></a><span>也译 Also this</span>'
        '<input placeholder="Card number">'
    )
    assert untranslated(html) == ["The card is already lost", "created", "card.replace", "Also this", "Card number"]


@pytest.mark.timeout(120)
def test_every_console_page_is_in_chinese(app, client):
    scene = build_console_world(app, client)
    ids = seed_every_kind_of_object(app, client, scene)
    assert sign_in(client, "c-admin").status_code == 302
    pages = every_console_page(app, ids)
    assert len(pages) >= 25
    leaks = {}
    for url in pages:
        response = client.get(url, follow_redirects=True)  # /console/reports opens its first tab
        assert response.status_code == 200, url
        if found := untranslated(response.get_data(as_text=True)):
            leaks[url] = found
    for url in pages:  # and every page still renders in English
        assert client.get(url + ("&" if "?" in url else "?") + "lang=en", follow_redirects=True).status_code == 200
    client.get("/console/?lang=zh")
    client.post("/console/sign-out")
    sign_in_page = client.get("/console/sign-in").get_data(as_text=True)
    if found := untranslated(sign_in_page):
        leaks["/console/sign-in"] = found
    assert leaks == {}, "\n".join(f"{url}: {found}" for url, found in leaks.items())


def test_each_area_keeps_its_own_words_for_the_same_english(app, client):
    """ "Name" is 名称 for a merchant in the console and 昵称 for a member in the portal (one app, both catalogs)."""
    from flask import render_template_string

    from server.i18n import area_domain

    build_console_world(app, client)
    assert sign_in(client, "c-admin").status_code == 302
    head = page_text(client.get("/console/merchants")).split("<thead>", 1)[1].split("</thead>", 1)[0]
    assert "<th>名称</th>" in head and "昵称" not in head
    with app.test_request_context("/member/privacy"):
        assert render_template_string('{{ _("Name") }}') == "昵称"  # the member portal's word is untouched
        area_domain(app, "console").as_default()
        assert render_template_string('{{ _("Name") }}') == "名称"
