"""Server-drawn charts and the case page's panel slots."""

from __future__ import annotations

import re

from somebound.web import panels
from somebound.web.charts import bar_chart


def test_bar_chart_scales_bars_escapes_labels_and_states_values() -> None:
    svg = str(bar_chart({"<b>email</b>": [10, 0], "x": [5, 20]}, ["inbound", "somebound"],
                        title="received"))
    assert "<b>" not in svg and "&lt;b&gt;email&lt;/b&gt;" in svg
    widths = [float(w) for w in re.findall(r'<rect x="150" y="\d+" width="([\d.]+)"', svg)]
    assert widths[3] == max(widths) and widths[2] == widths[3] / 4 and widths[1] == 0
    assert 'aria-label="received"' in svg and ">20<" in svg
    assert "—" in str(bar_chart({}, ["a"], title="empty"))


def test_a_later_issue_fills_a_panel_by_registering_a_provider() -> None:
    before = {p.id: p for p in panels.panels()}
    assert {"next-best-action", "listening", "identity"} <= set(before)
    case = {"id": 1, "insights": {"sentiment": {"label": "negative"}}}
    data = {d["id"]: d for d in panels.render_data(None, case, None)}
    assert data["listening"]["data"] == {"sentiment": {"label": "negative"}}
    assert data["next-best-action"]["data"] is None

    def broken(conn, case, customer):  # noqa: ANN001, ANN202
        raise RuntimeError("model not loaded")

    try:
        panels.register_panel(panels.Panel("identity", "Identity suggestions",
                                           "panels/identity.html",
                                           lambda conn, case, cust: [{"customer_id": 9}]))
        panels.register_panel(panels.Panel("broken", "Broken", "panels/identity.html", broken))
        data = {d["id"]: d for d in panels.render_data(None, case, None)}
        assert data["identity"]["data"] == [{"customer_id": 9}]
        assert data["broken"]["error"] == "RuntimeError: model not loaded"
    finally:
        panels._PANELS.clear()
        panels._PANELS.update(before)
