"""Slots on the case page that other issues fill: next best action, identity, listening.

A panel is a title, a template and a provider ``(conn, case, customer) -> data | None``.
The default providers read what the pipeline already stored in ``cases.insights``; the
decision hub, the identity review queue and the listening issue replace a provider (or
add a panel) with :func:`register_panel` and nothing on the page has to change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

Provider = Callable[[Connection, dict, dict | None], Any]


@dataclass
class Panel:
    id: str  # the DOM id suffix and the key other issues register under
    title: str  # English source string (translated in the template)
    template: str  # a template under web/templates/panels/
    provider: Provider
    order: int = 100


_PANELS: dict[str, Panel] = {}


def register_panel(panel: Panel) -> None:
    """Add a panel or replace the provider/template of one with the same id."""
    _PANELS[panel.id] = panel


def panels() -> list[Panel]:
    return sorted(_PANELS.values(), key=lambda p: (p.order, p.id))


def render_data(conn: Connection, case: dict, customer: dict | None) -> list[dict]:
    """Each panel's data for one case; a failing provider shows an error, not a 500."""
    out = []
    for p in panels():
        try:
            data = p.provider(conn, case, customer)
            error = None
        except Exception as exc:  # a later issue's panel must not take the case page down
            data, error = None, f"{type(exc).__name__}: {exc}"
        out.append({"id": p.id, "title": p.title, "template": p.template, "data": data,
                    "error": error})
    return out


def _insight(*keys: str) -> Provider:
    def provider(_conn: Connection, case: dict, _customer: dict | None) -> Any:
        insights = case.get("insights") or {}
        found = {k: insights[k] for k in keys if insights.get(k) not in (None, {}, [])}
        if len(keys) == 1:
            return found.get(keys[0])
        return found or None

    return provider


register_panel(Panel("next-best-action", "Next best action", "panels/next_best_action.html",
                     _insight("next_best_action"), order=10))
register_panel(Panel("listening", "Sentiment, intent and urgency", "panels/listening.html",
                     _insight("sentiment", "intent", "urgency", "language", "reach",
                              "engagement"),
                     order=20))
register_panel(Panel("identity", "Identity suggestions", "panels/identity.html",
                     _insight("identity_suggestions"), order=30))
