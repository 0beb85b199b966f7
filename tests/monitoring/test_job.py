"""Which features the monitoring job drift-tests (pure pandas)."""

from __future__ import annotations

import pandas as pd

from monitoring.job import measurable


def test_a_feature_without_values_in_either_window_is_left_out_and_named():
    reference = pd.DataFrame({"sharpe_12m": [0.1, 0.2], "spx_trend_12m": [None, None], "hhi": [0.5, None]})
    current = pd.DataFrame({"sharpe_12m": [0.3], "spx_trend_12m": [0.1], "hhi": [None]})
    measured, not_measured = measurable(reference, current, ["sharpe_12m", "spx_trend_12m", "hhi"])
    assert measured == ["sharpe_12m"]
    assert not_measured == ["spx_trend_12m", "hhi"]
