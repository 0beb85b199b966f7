"""The monitoring report: the time series plotted, the decisions and their reasons, as one HTML page.

Plots are drawn with matplotlib's object API (no pyplot, no global backend) and embedded as PNG, so each
page stands alone: in the data root, as a KFP HTML artifact and in MLflow.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from feature_repo.feature_schema import EVENT_TIMESTAMP
from monitoring.decision import Decision

# Each panel of the report: its title and the series columns it plots.
PANELS = {
    "drift": ("Drift of the served windows against the training reference", ["drifted_share", "score_psi"]),
    "proxy": ("Proxy labels: the next trading day of the feed's top K", ["top_k_excess_1d", "ic_1d"]),
    "realised": ("Realised labels, once matured", ["realised_ndcg_at_100", "realised_ic"]),
    "churn": ("Top-10 churn, served window over served window", ["top10_churn"]),
}
STYLE = "body{font-family:sans-serif;max-width:1100px;margin:2em auto}td,th{padding:2px 8px;text-align:left}"


def plot_png(series: pd.DataFrame, columns: Sequence[str], title: str, marks: Sequence[Decision] = ()) -> str:
    """A line plot of `columns` against the as-of date, as a base64 PNG; decisions are vertical lines
    (red where one retrained)."""
    figure = Figure(figsize=(10, 3.2), layout="constrained")
    axes = figure.subplots()
    plotted = [c for c in columns if c in series and series[c].notna().any()]
    for column in plotted:
        values = series[[EVENT_TIMESTAMP, column]].dropna()
        axes.plot(values[EVENT_TIMESTAMP], values[column].astype(float), marker="o", label=column)
    for decision in marks:
        axes.axvline(pd.Timestamp(decision.window), color="red" if decision.retrain else "grey", alpha=0.4)
    axes.set_title(title)
    axes.grid(alpha=0.3)
    if plotted:
        axes.legend(loc="best")
    else:
        axes.text(0.5, 0.5, "no values yet", ha="center", va="center", transform=axes.transAxes)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    return base64.b64encode(buffer.getvalue()).decode()


def panel(series: pd.DataFrame, name: str, marks: Sequence[Decision] = ()) -> str:
    """One panel of `PANELS`: its plot and the table of its values."""
    title, columns = PANELS[name]
    present = [c for c in columns if c in series]
    table = series[[EVENT_TIMESTAMP, *present]].assign(**{EVENT_TIMESTAMP: series[EVENT_TIMESTAMP].dt.date})
    png = plot_png(series, present, title, marks)
    return (
        f"<h2>{html.escape(title)}</h2>"
        f'<img alt="{html.escape(title)}" src="data:image/png;base64,{png}">'
        f"<details><summary>values</summary>{table.to_html(index=False, float_format='{:.4g}'.format)}"
        "</details>"
    )


def page(title: str, body: str) -> str:
    """A standalone HTML page."""
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )


def series_page(series: pd.DataFrame, name: str) -> str:
    """The page of one monitoring step (drift, proxy, realised or churn)."""
    return page(f"skillrank monitoring: {name}", panel(series, name))


def decisions_html(decisions: Sequence[Decision]) -> str:
    """Each decision: its window, verdict, the rules fired and every reason."""
    parts = []
    for decision in decisions:
        verdict = "RETRAIN" if decision.retrain else "keep"
        fired = ", ".join(decision.rules_fired) or "none"
        reasons = "".join(f"<li>{html.escape(r)}</li>" for r in decision.reasons)
        parts.append(
            f"<h3>{decision.window}: {verdict} (model v{html.escape(decision.model_version)}; rules fired: "
            f"{html.escape(fired)})</h3><ul>{reasons}</ul>"
        )
    return "".join(parts)


def monitoring_report(
    series: pd.DataFrame, decisions: Sequence[Decision], served_text: str, drift_href: str | None
) -> str:
    """The whole report: the decisions first, then every panel, and a link to the latest drift report."""
    link = f'<p><a href="{html.escape(drift_href)}">Evidently drift report of the latest window</a></p>'
    body = (
        f"<p>{html.escape(served_text)}</p>"
        f"<h2>Decisions</h2>{decisions_html(decisions)}"
        f"{link if drift_href else ''}" + "".join(panel(series, name, decisions) for name in PANELS)
    )
    return page("skillrank monitoring report", body)


def write_page(path: Path, text: str) -> Path:
    """Write `text` to `path` (its folder created); returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
