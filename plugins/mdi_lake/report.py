"""``mdi lake report``: one self-contained HTML file (plotly's JS inlined, opens offline).

Charts: per-venue coverage timeline (live / not live from ``status`` rows, ``gap`` rows as
marks), rows per hour per stream, the consolidated spot mid with each venue's mid and the quality
flag, the IV smile per expiry (latest snapshot) and the ATM IV term structure. Data is read with
DuckDB through :mod:`mdi_lake.query`, so the report sees exactly what a query would. Decimals are
turned into floats only here, for drawing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mdi_lake.catalog import Catalog
from mdi_lake.lakefs import Lake, LakeError
from mdi_lake.query import connect

COVERAGE_STATES = {"subscribed": "live", "connecting": "connecting", "connected": "connecting", "stale": "stale"}
QUALITY_COLOURS = {"Ok": "#2ca02c", "Degraded": "#ff7f0e", "Suspect": "#d62728"}
MAX_POINTS = 20_000  # per chart trace: a day of 1 s mids fits; beyond, rows are thinned evenly


def plotly_modules() -> tuple[Any, Any]:
    try:
        import plotly.graph_objects as go
        import plotly.io as pio
    except ImportError:
        raise LakeError("`mdi lake report` needs plotly: pip install 'md-ingest[lake]' (or: pip install plotly)") from None
    return go, pio


def build_report(lake: Lake, catalog: Catalog, start: datetime | None, end: datetime | None) -> str:
    go, pio = plotly_modules()
    con, views = connect(lake, catalog)
    where = _window(start, end)
    sections: list[tuple[str, Any]] = [
        ("Coverage per venue", _coverage(go, con, views, where)),
        ("Rows per hour per stream", _rows_per_hour(go, con, views, where)),
        ("Spot mid", _spot_mid(go, con, views, where)),
        ("IV smile per expiry (latest snapshot)", _smile(go, con, views, where)),
        ("ATM IV term structure (latest snapshot)", _term(go, con, views, where)),
    ]
    parts = []
    first = True
    for title, figure in sections:
        figure.update_layout(title=title, height=420, margin={"l": 60, "r": 20, "t": 50, "b": 40})
        parts.append(pio.to_html(figure, include_plotlyjs=first, full_html=False, config={"responsive": True}))
        first = False
    return _page(lake.uri, start, end, parts)


def _window(start: datetime | None, end: datetime | None) -> str:
    clauses = []
    if start:
        clauses.append(f"ts_recv >= TIMESTAMPTZ '{start.isoformat()}'")
    if end:
        clauses.append(f"ts_recv < TIMESTAMPTZ '{end.isoformat()}'")
    return " AND ".join(clauses) or "TRUE"


def _rows(con: Any, sql: str) -> list[tuple[Any, ...]]:
    return list(con.execute(sql).fetchall())


def _empty(go: Any, text: str) -> Any:
    figure = go.Figure()
    figure.add_annotation(text=text, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    return figure


def _coverage(go: Any, con: Any, views: list[str], where: str) -> Any:
    if "status" not in views:
        return _empty(go, "no status rows in this window")
    rows = _rows(con, f"SELECT venue, ts_recv, state FROM status WHERE {where} ORDER BY seq")
    end = _rows(con, " UNION ALL ".join(f"SELECT max(ts_recv) FROM \"{v}\" WHERE {where}" for v in views))
    last = max((r[0] for r in end if r[0] is not None), default=None)
    figure = go.Figure()
    colours = {"live": "#2ca02c", "connecting": "#9e9e9e", "stale": "#ff7f0e", "disconnected": "#d62728"}
    shown: set[str] = set()
    spans: dict[str, list[tuple[Any, Any, str]]] = {}
    current: dict[str, tuple[Any, str]] = {}
    for venue, ts, state in rows:
        label = COVERAGE_STATES.get(state, "disconnected")
        if venue in current and current[venue][1] != label:
            spans.setdefault(venue, []).append((current[venue][0], ts, current[venue][1]))
            current[venue] = (ts, label)
        elif venue not in current:
            current[venue] = (ts, label)
    for venue, (ts, label) in current.items():
        spans.setdefault(venue, []).append((ts, last or ts, label))
    for venue, items in sorted(spans.items()):
        for begin, finish, label in items:
            figure.add_trace(go.Scatter(x=[begin, finish], y=[venue, venue], mode="lines", line={"color": colours[label], "width": 14}, name=label, legendgroup=label, showlegend=label not in shown))
            shown.add(label)
    if "gap" in views:
        gaps = _rows(con, f"SELECT venue, ts_recv FROM gap WHERE {where}")
        if gaps:
            figure.add_trace(go.Scatter(x=[g[1] for g in gaps], y=[g[0] for g in gaps], mode="markers", marker={"symbol": "x", "size": 10, "color": "black"}, name="gap"))
    figure.update_yaxes(type="category")
    return figure


def _rows_per_hour(go: Any, con: Any, views: list[str], where: str) -> Any:
    figure = go.Figure()
    for view in views:
        rows = _rows(con, f"SELECT date_trunc('hour', ts_recv) AS h, count(*) FROM \"{view}\" WHERE {where} GROUP BY 1 ORDER BY 1")
        figure.add_trace(go.Bar(x=[r[0] for r in rows], y=[r[1] for r in rows], name=view))
    figure.update_layout(barmode="group", xaxis_title="hour (UTC)", yaxis_title="rows")
    return figure if views else _empty(go, "the lake holds no rows")


def _thin(sql: str, con: Any) -> list[tuple[Any, ...]]:
    rows = _rows(con, sql)
    step = max(1, len(rows) // MAX_POINTS)
    return rows[::step]


def _spot_mid(go: Any, con: Any, views: list[str], where: str) -> Any:
    """Mids on top; below, the quality flag of every second (Ok, Degraded, Suspect)."""
    if "spot_mid_1s" not in views:
        return _empty(go, "no spot_mid_1s rows")
    from plotly.subplots import make_subplots

    rows = _thin(f"SELECT ts_bucket, mid, quality, reason FROM spot_mid_1s WHERE {where} ORDER BY ts_bucket", con)
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.78, 0.22], vertical_spacing=0.04)
    figure.add_trace(go.Scatter(x=[r[0] for r in rows], y=[_f(r[1]) for r in rows], mode="lines", name="spot mid", line={"width": 3}), row=1, col=1)
    venue_rows = _thin(f"SELECT ts_bucket, v.venue, v.mid FROM spot_mid_1s, unnest(venue_mids) AS t(v) WHERE {where} ORDER BY ts_bucket", con)
    for venue in sorted({r[1] for r in venue_rows}):
        mine = [r for r in venue_rows if r[1] == venue]
        figure.add_trace(go.Scatter(x=[r[0] for r in mine], y=[_f(r[2]) for r in mine], mode="lines", name=f"{venue} mid", line={"dash": "dot"}), row=1, col=1)
    for quality, colour in QUALITY_COLOURS.items():
        mine = [r for r in rows if r[2] == quality]
        if mine:
            figure.add_trace(go.Scatter(x=[r[0] for r in mine], y=[quality] * len(mine), mode="markers", name=f"quality {quality}",
                                        text=[r[3] for r in mine], marker={"color": colour, "size": 6, "symbol": "square"}), row=2, col=1)
    figure.update_yaxes(title_text="USD", row=1, col=1)
    figure.update_yaxes(type="category", categoryorder="array", categoryarray=list(QUALITY_COLOURS), row=2, col=1)
    return figure


def _latest_snapshot(con: Any, where: str) -> str:
    return f"SELECT * FROM iv_surface_snapshot WHERE {where} AND ts_bucket = (SELECT max(ts_bucket) FROM iv_surface_snapshot WHERE {where})"


def _smile(go: Any, con: Any, views: list[str], where: str) -> Any:
    if "iv_surface_snapshot" not in views:
        return _empty(go, "no iv_surface_snapshot rows")
    rows = _rows(con, f"SELECT s.expiry_ns, p.strike, p.mark_iv FROM ({_latest_snapshot(con, where)}) s, unnest(s.smile) AS t(p) ORDER BY 1, 2")
    figure = go.Figure()
    for expiry in sorted({r[0] for r in rows}):
        mine = [r for r in rows if r[0] == expiry]
        figure.add_trace(go.Scatter(x=[_f(r[1]) for r in mine], y=[_f(r[2]) for r in mine], mode="lines+markers", name=f"{expiry:%Y-%m-%d}"))
    figure.update_layout(xaxis_title="strike (USD)", yaxis_title="mark IV (%)")
    return figure


def _term(go: Any, con: Any, views: list[str], where: str) -> Any:
    if "iv_surface_snapshot" not in views:
        return _empty(go, "no iv_surface_snapshot rows")
    rows = _rows(con, f"SELECT expiry_ns, atm_iv, quality FROM ({_latest_snapshot(con, where)}) ORDER BY 1")
    figure = go.Figure(go.Scatter(x=[r[0] for r in rows], y=[_f(r[1]) for r in rows], mode="lines+markers", text=[r[2] for r in rows], name="ATM IV"))
    figure.update_layout(xaxis_title="expiry", yaxis_title="ATM IV (%)")
    return figure


def _f(value: Any) -> float | None:
    return None if value is None else float(value)


def _page(uri: str, start: datetime | None, end: datetime | None, parts: list[str]) -> str:
    span = f"{start.isoformat() if start else 'start'} to {end.isoformat() if end else 'end'}"
    body = "\n".join(f'<section class="chart">{p}</section>' for p in parts)
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>mdi lake report</title>"
        "<style>body{font-family:sans-serif;margin:1em 2em}section.chart{margin-bottom:2em}</style></head>"
        f"<body><h1>mdi lake report</h1><p>Lake <code>{_escape(uri)}</code>, {_escape(span)}.</p>\n{body}\n</body></html>\n"
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
