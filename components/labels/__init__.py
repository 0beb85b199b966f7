"""Every label skillrank learns or monitors, and its horizon, in one table.

`LABEL_TABLE` (`components.labels.definitions`) holds each label's forward window, its horizon in
calendar days (what the walk-forward purges and embargoes by) and its meaning; the Spark feature job
computes the `LABELS` over those windows (`components.labels.forward`, called by
`components.features.build_features`) and `add_excess_labels` derives the `DERIVED_LABELS` from
them in pandas. To change a label's horizon, change this table.
"""

from components.labels.definitions import (
    DERIVED_LABELS,
    LABEL_TABLE,
    LABELS,
    LabelDefinition,
    label_definition,
    label_horizon_days,
)
from components.labels.excess import add_excess_labels

__all__ = [
    "DERIVED_LABELS",
    "LABELS",
    "LABEL_TABLE",
    "LabelDefinition",
    "add_excess_labels",
    "label_definition",
    "label_horizon_days",
]
