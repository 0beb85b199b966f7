"""`skillrank study` compares labels on the same test dates."""

import numpy as np
import pandas as pd

from components.ranking.study import aligned_labels


def test_labels_are_compared_up_to_the_last_date_the_slowest_has_matured():
    dates = pd.date_range("2020-01-31", periods=24, freq="ME")
    frame = pd.DataFrame(
        {"as_of_date": dates, "short": 1.0, "long": np.where(dates <= dates[11], 2.0, np.nan)}
    )
    aligned, end = aligned_labels(frame, ["short", "long"])
    assert end == dates[11]
    assert aligned["short"].notna().sum() == 12 and aligned["long"].notna().sum() == 12
    assert frame["short"].notna().sum() == 24  # the caller's frame is left alone
