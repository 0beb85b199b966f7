"""The label table: one entry per label, horizons that cover the windows, errors that name the labels."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from components.errors import DataError
from components.labels import DERIVED_LABELS, LABEL_TABLE, LABELS, label_definition, label_horizon_days
from components.ranking.learner import AUTO_LABELS

DOC = Path(__file__).resolve().parents[3] / "docs" / "FEATURES.md"
# The fewest calendar days one unit of a window lasts.
SHORTEST_DAYS = {"calendar days": 1, "trading days": 1, "periods": 28, "30-day windows": 30}


def test_the_spark_labels_are_the_columns_of_labels_in_order():
    assert LABELS == ("fwd_sharpe_30d", "fwd_return_30d", "fwd_return_1d", "fwd_alpha_tstat_12m")
    assert DERIVED_LABELS == ("fwd_excess_90d", "fwd_excess_ir_90d")


def test_labels_that_share_sums_share_their_window():
    # the Spark job computes both 30-day labels from one window's sums, and chains both derived ones alike
    assert LABEL_TABLE["fwd_sharpe_30d"].window == LABEL_TABLE["fwd_return_30d"].window
    assert LABEL_TABLE["fwd_excess_90d"].window == LABEL_TABLE["fwd_excess_ir_90d"].window


def test_every_horizon_covers_its_window():
    for name, label in LABEL_TABLE.items():
        assert label.horizon_days >= label.window * SHORTEST_DAYS[label.unit], name


def test_the_default_labels_purge_at_least_the_former_30_days():
    # the purge span was max(30 days, the label's horizon): the labels "auto" picks keep theirs
    assert all(label_horizon_days(label) >= 30 for label in AUTO_LABELS)
    assert [label_horizon_days(label) for label in AUTO_LABELS] == [366, 30]


def test_every_label_has_a_one_line_meaning_and_is_documented():
    documented = set(re.findall(r"`([a-z0-9_]+)`", DOC.read_text()))
    assert set(LABEL_TABLE) <= documented
    assert all(label.description.strip() and "\n" not in label.description for label in LABEL_TABLE.values())


def test_an_unknown_label_is_named_with_the_known_ones():
    with pytest.raises(DataError, match="unknown label 'fwd_magic': choose one of fwd_sharpe_30d, "):
        label_horizon_days("fwd_magic")
    with pytest.raises(DataError, match="fwd_excess_ir_90d"):
        label_definition("fwd_magic")
