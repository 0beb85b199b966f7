"""The 12-month forward alpha label (components/labels/forward.py), against NumPy OLS.

The 30-day and 1-day labels are checked on the feature job's hand-made world
(tests/components/features/test_job.py), where the calendar decides their windows.
"""

from __future__ import annotations

import numpy as np
import pytest

from components.labels.forward import ALPHA_LABEL, FORWARD_PERIODS, forward_alpha_label
from tests.feature_world import EVIDENCE_LAST_PERIOD, evidence_frames, evidence_world, ols_alpha_t

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def world():
    return evidence_world()


@pytest.fixture(scope="module")
def label(spark, world):
    grid, sums = evidence_frames(spark, *world)
    frame = forward_alpha_label(grid, sums, EVIDENCE_LAST_PERIOD).toPandas()
    return frame.set_index(["account_id", "period"])["fwd_alpha_tstat_12m"]


def test_the_window_is_the_table_s_12_periods():
    assert FORWARD_PERIODS == 12


def test_the_forward_label_uses_the_12_months_strictly_after_the_as_of_month(label, world):
    _, daily = world
    period = 2020 * 12 + 3  # April 2020: its window is May 2020 .. April 2021
    window = daily[
        (daily["account_id"] == "steady") & daily["period"].between(period + 1, period + FORWARD_PERIODS)
    ]
    expected = ols_alpha_t(window["r"].to_numpy(dtype=float), window["u"].to_numpy(dtype=float))
    assert label[("steady", period)] == pytest.approx(expected, rel=1e-6)


def test_the_label_is_null_until_its_12_months_are_over(label):
    mature = EVIDENCE_LAST_PERIOD - FORWARD_PERIODS
    assert np.isfinite(label[("steady", mature)])
    steady = label["steady"]
    assert steady[steady.index > mature].isna().all() and (steady.index > mature).sum() == FORWARD_PERIODS


def test_an_account_that_closes_keeps_the_label_of_what_it_did(label, world):
    _, daily = world
    period = 2020 * 12 + 5  # June 2020: the account closes in November, inside the window
    window = daily[(daily["account_id"] == "closer") & (daily["period"] > period)].dropna(subset=["r"])
    expected = ols_alpha_t(window["r"].to_numpy(dtype=float), window["u"].to_numpy(dtype=float))
    assert label[("closer", period)] == pytest.approx(expected, rel=1e-6)


def test_too_few_returns_in_the_window_give_no_label(spark, world):
    grid, sums = evidence_frames(spark, *world)
    every_window_over = EVIDENCE_LAST_PERIOD + FORWARD_PERIODS
    frame = forward_alpha_label(grid, sums, every_window_over).toPandas()
    closer = frame[frame["account_id"] == "closer"].set_index("period")["fwd_alpha_tstat_12m"]
    # "closer" stops on Nov 20, 2020: September's window holds 37 returns, October's 15 (Nov 2 .. 20)
    assert ALPHA_LABEL.min_returns == 21
    assert np.isfinite(closer[2020 * 12 + 8]) and np.isnan(closer[2020 * 12 + 9])
