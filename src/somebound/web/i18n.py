"""UI translations: English source strings, a Finnish gettext catalogue compiled at run time.

The catalogue is a plain ``.po`` file read with Babel (no committed ``.mo``); each
language gets its own Jinja2 environment with the translations installed, so rendering
is thread-safe and choosing a language is choosing an environment.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT_LANGUAGE = "en"
# Languages the UI speaks, in their own words (the settings page offers these).
LANGUAGES = {"en": "English", "fi": "Suomi"}


def normalise_language(lang: str | None) -> str:
    """The UI language for an agent's stored preference (unknown ones fall back to English)."""
    code = (lang or "").split("-")[0].split("_")[0].lower()
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"


@lru_cache(maxsize=8)
def translations(lang: str) -> NullTranslations:
    """gettext translations for ``lang``; English (the source language) needs none."""
    lang = normalise_language(lang)
    path = po_path(lang)
    if lang == DEFAULT_LANGUAGE or not path.exists():
        return NullTranslations()
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(fp=buf)


# Strings the pages translate that are not literals in the templates (panel titles and
# insight keys reach the templates as data).
DYNAMIC_MESSAGES = ("Next best action", "Sentiment, intent and urgency", "Identity suggestions",
                    "sentiment", "intent", "urgency", "language", "reach",
                    "engagement")
PYTHON_SOURCES = ("render.py",)


def source_messages() -> set[str]:
    """Every msgid the UI uses: template literals, filters' strings and dynamic ones."""
    from babel.messages.extract import extract_from_dir

    root = Path(__file__).parent
    method_map = [("templates/**.html", "jinja2"), ("render.py", "python")]
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true",
                                     "trimmed": "false"}}
    out: set[str] = set(DYNAMIC_MESSAGES)
    for _file, _line, message, _comments, _ctx in extract_from_dir(
            str(root), method_map, options_map=options):
        out.add(message[0] if isinstance(message, tuple) else message)
    return out
