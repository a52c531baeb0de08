"""Jinja2 environments (one per UI language) and the formatting filters pages share."""

from __future__ import annotations

import ast
import hashlib
import hmac
import json
import os
import re
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from somebound.web.i18n import normalise_language, translations
from somebound.web.rows import case_rows

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


def _static_version() -> str:
    """A cache-busting suffix for our own static files (changes when they change)."""
    h = hashlib.sha256()
    for p in sorted(STATIC.glob("*")):
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()[:10]


def duration(seconds: float, ngettext: Any) -> str:
    """'45 s', '12 min', '3 h 5 min', '2 d 4 h' in the UI language."""
    s = int(abs(seconds))
    if s < 60:
        return ngettext("%(num)d s", "%(num)d s", s) % {"num": s}
    m = s // 60
    if m < 60:
        return ngettext("%(num)d min", "%(num)d min", m) % {"num": m}
    h, m = divmod(m, 60)
    if h < 24:
        return (ngettext("%(num)d h", "%(num)d h", h) % {"num": h}
                + (" " + ngettext("%(num)d min", "%(num)d min", m) % {"num": m} if m else ""))
    d, h = divmod(h, 24)
    return ngettext("%(num)d d", "%(num)d d", d) % {"num": d} + (
        " " + ngettext("%(num)d h", "%(num)d h", h) % {"num": h} if h else "")


_LITERAL_GETTEXT = re.compile(r"""\b_\(\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')\s*\)""")


class TranslatingLoader(FileSystemLoader):
    """Translates ``_("literal")`` when a template is loaded, not each time it renders.

    Each language has its own environment, so a literal's translation is a constant of
    that environment's compiled template: a case page has ~100 UI strings, and calling
    gettext for each on every render was a measurable part of the page's time. Dynamic
    ``_(expression)`` calls are left to the installed gettext.
    """

    def __init__(self, searchpath: Path, gettext: Any):
        super().__init__(searchpath)
        self._gettext = gettext

    def get_source(self, environment: Environment, template: str) -> tuple[str, str, Any]:
        source, filename, uptodate = super().get_source(environment, template)

        def sub(m: re.Match[str]) -> str:
            text = self._gettext(ast.literal_eval(m.group(1)))
            return json.dumps(text, ensure_ascii=False)

        return _LITERAL_GETTEXT.sub(sub, source), filename, uptodate


@lru_cache(maxsize=8)
def environment(lang: str) -> Environment:
    """The template environment for one UI language, translations installed."""
    lang = normalise_language(lang)
    t = translations(lang)
    # Templates are read once per process (no stat() of each template on every render);
    # SOMEBOUND_TEMPLATE_RELOAD=1 re-reads them when they change, for editing them live.
    env = Environment(loader=TranslatingLoader(TEMPLATES, t.gettext),
                      autoescape=select_autoescape(["html", "xml", "svg"]),
                      extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True,
                      auto_reload=os.environ.get("SOMEBOUND_TEMPLATE_RELOAD") == "1")
    env.install_gettext_translations(t, newstyle=True)  # type: ignore[attr-defined]
    gettext, ngettext = t.gettext, t.ngettext

    def sla_left(due: datetime | None, now: datetime) -> str:
        if due is None:
            return "—"
        left = (due - now).total_seconds()
        if left < 0:
            return gettext("overdue %(time)s") % {"time": duration(-left, ngettext)}
        return gettext("in %(time)s") % {"time": duration(left, ngettext)}

    def ago(at: datetime | None, now: datetime) -> str:
        if at is None:
            return "—"
        return gettext("%(time)s ago") % {"time": duration((now - at).total_seconds(), ngettext)}

    def dt(at: datetime | None) -> str:
        return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if at else "—"

    def iso(at: datetime | None) -> str:
        return at.astimezone(UTC).isoformat() if at else ""

    env.filters.update(sla_left=sla_left, ago=ago, dt=dt, iso=iso,
                       duration=lambda s: duration(s, ngettext) if s is not None else "—")

    @lru_cache(maxsize=256)
    def filters_form_for(chosen: tuple, options: tuple) -> Markup:
        return Markup(env.get_template("_inbox_filters.html").render(
            filters=dict(chosen), options={k: list(v) for k, v in options}).strip())

    def filters_form(filters: dict[str, str], options: dict[str, list[str]]) -> Markup:
        """The inbox's filter form (~0.3 ms of Jinja2 macros and option loops), rendered
        once per language and choice of filters: it shows nothing else."""
        return filters_form_for(tuple(sorted(filters.items())),
                                tuple((k, tuple(v)) for k, v in options.items()))

    env.globals.update(lang=lang, static_version=_static_version(), filters_form=filters_form,
                       case_rows=lambda rows, now, texts: case_rows(rows, now, sla_left, texts))
    return env


def render(lang: str, name: str, **context: Any) -> str:
    return environment(lang).get_template(name).render(**context)


def csrf_token(secret: str, session_token: str) -> str:
    """Bound to the session cookie: another site can neither read nor forge it."""
    return hmac.new(secret.encode(), f"csrf:{session_token}".encode(),
                    hashlib.sha256).hexdigest()[:40]
