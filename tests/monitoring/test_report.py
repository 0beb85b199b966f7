"""The monitoring report: every series plotted, the decisions and their reasons, a page that stands alone."""

from __future__ import annotations

import numpy as np
import pandas as pd

from monitoring.decision import Decision
from monitoring.report import PANELS, monitoring_report, plot_png, series_page

DATES = pd.date_range("2021-01-31", periods=4, freq="ME")
SERIES = pd.DataFrame(
    {
        "as_of_date": DATES,
        "drifted_share": [0.0, 0.1, 0.6, 0.7],
        "score_psi": [0.05, 0.04, 0.4, 0.5],
        "top_k_excess_1d": [0.001, 0.002, -0.001, np.nan],
        "ic_1d": [0.1, 0.05, 0.0, np.nan],
        "top10_churn": [np.nan, 0.2, 0.3, 0.8],
    }
)


def test_a_plot_is_a_png():
    png = plot_png(SERIES, ["top10_churn"], "churn")
    assert png.startswith("iVBORw0KGgo")  # base64 of the PNG signature


def test_a_series_without_values_still_draws_a_panel():
    page = series_page(SERIES, "realised")  # no realised column at all
    assert page.count("data:image/png;base64,") == 1 and "Realised labels" in page


def test_the_report_has_every_panel_and_every_reason():
    decisions = [
        Decision("2021-03-31", "skillrank", "3", False, [], ["no rule fired"], {}, {}),
        Decision(
            "2021-04-30", "skillrank", "3", True, ["drift"], ["drift persisted <3 windows>"], {"hhi": 1.2}, {}
        ),
    ]
    page = monitoring_report(SERIES, decisions, "Model skillrank v3", "../drift/drift_report.html")
    assert page.startswith("<!DOCTYPE html>") and page.endswith("</html>")
    assert page.count("data:image/png;base64,") == len(PANELS)
    assert "2021-04-30: RETRAIN" in page and "2021-03-31: keep" in page
    assert "drift persisted &lt;3 windows&gt;" in page  # reasons are escaped
    assert 'href="../drift/drift_report.html"' in page
