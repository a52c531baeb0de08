"""The UI's Finnish catalogue covers every string the pages show, and is used."""

from __future__ import annotations

from babel.messages.pofile import read_po

from somebound.web.i18n import normalise_language, po_path, source_messages, translations
from somebound.web.render import duration, render


def test_every_ui_string_has_a_finnish_translation() -> None:
    with po_path("fi").open("rb") as fh:
        catalog = read_po(fh, locale="fi")
    translated = {m.id[0] if isinstance(m.id, tuple) else m.id: m.string for m in catalog
                  if m.id}
    used = source_messages()
    assert len(used) > 80
    missing = sorted(m for m in used if not translated.get(m))
    assert missing == [], f"add these to {po_path('fi')}: {missing}"
    assert not [m.id for m in catalog if m.fuzzy and m.id], "fuzzy entries are not used"


def test_translations_compile_at_run_time_and_english_is_the_source() -> None:
    fi = translations("fi")
    assert fi.gettext("Inbox") == "Saapuneet"
    assert fi.ngettext("%(num)d d", "%(num)d d", 3) % {"num": 3} == "3 pv"
    assert translations("en").gettext("Inbox") == "Inbox"
    assert normalise_language("fi-FI") == "fi" and normalise_language("de") == "en"
    assert normalise_language(None) == "en"


def test_durations_read_naturally() -> None:
    en = translations("en")
    assert duration(42, en.ngettext) == "42 s"
    assert duration(3 * 3600 + 5 * 60, en.ngettext) == "3 h 5 min"
    assert duration(-(2 * 86400 + 4 * 3600), en.ngettext) == "2 d 4 h"


def test_login_page_renders_in_both_languages() -> None:
    ctx = {"next": "/inbox", "error": "1", "agent": None, "unread": 0, "spikes": [],
           "path": "/login"}
    assert "Wrong username or password." in render("en", "login.html", **ctx)
    fi = render("fi", "login.html", **ctx)
    assert "Väärä käyttäjätunnus tai salasana." in fi and '<html lang="fi">' in fi
