"""Every label skillrank computes, in one table: its forward window, its horizon and its meaning.

A label at an as-of date T reads only rows dated strictly after T. `LABEL_TABLE` gives, per label,
the window the code computes it over (in its own unit: calendar days, trading days, periods of the
feature job, chained 30-day windows), its horizon in calendar days from T to the end of that window
(what the walk-forward purges and embargoes by), the fewest returns it needs and a one-line meaning.
The Spark job (`components.labels.forward`), the derived labels (`components.labels.excess`) and the
purging (`components.ranking.learner.horizon_days`) all read it: to change a label's horizon, change
this table.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.errors import DataError


@dataclass(frozen=True)
class LabelDefinition:
    """One label: the window it is computed over, its horizon for purging, and what it measures.

    Attributes:
        window: Length of the forward window, in `unit`.
        unit: ``"calendar days"``, ``"trading days"``, ``"periods"`` (the feature job's monthly
            periods after T) or ``"30-day windows"`` (chained forward windows of ``fwd_return_30d``).
        horizon_days: Calendar days from T to the end of the window: the purge and embargo span.
        description: One line, for the docs and the feature page.
        min_returns: Fewest daily returns in the window for the label to be given (else null).
        derived: Computed in pandas when the modelling frame is read, not written to ``labels/``.
    """

    window: int
    unit: str
    horizon_days: int
    description: str
    min_returns: int = 1
    derived: bool = False


# name -> definition; the Spark-written labels come first, in the column order of labels/.
LABEL_TABLE: dict[str, LabelDefinition] = {
    "fwd_sharpe_30d": LabelDefinition(
        30,
        "calendar days",
        30,
        "Annualised Sharpe ratio of daily returns in the 30 days after the as-of date.",
        min_returns=10,
    ),
    "fwd_return_30d": LabelDefinition(
        30,
        "calendar days",
        30,
        "Compounded return in the 30 days after the as-of date.",
        min_returns=10,
    ),
    "fwd_return_1d": LabelDefinition(
        1,
        "trading days",
        1,
        "Return of the first trading day after the as-of date (the 1-day proxy label).",
    ),
    # 12 monthly periods after T end at most 366 days later.
    "fwd_alpha_tstat_12m": LabelDefinition(
        12,
        "periods",
        366,
        "t-statistic of the alpha over the platform universe in the 12 months after "
        "the as-of date (the ranker's label; null until the 12 months are over).",
        min_returns=21,
    ),
    # Three chained month-end windows meet within a day or two of each other: at most 92 days.
    "fwd_excess_90d": LabelDefinition(
        3,
        "30-day windows",
        92,
        "Chained forward return of the next 3 monthly windows minus beta_12m times the S&P 500's return.",
        derived=True,
    ),
    "fwd_excess_ir_90d": LabelDefinition(
        3,
        "30-day windows",
        92,
        "fwd_excess_90d over the account's volatility scaled to the months chained (an information ratio).",
        derived=True,
    ),
}
# The labels the Spark job writes to labels/, and those derived from them in pandas.
LABELS: tuple[str, ...] = tuple(name for name, label in LABEL_TABLE.items() if not label.derived)
DERIVED_LABELS: tuple[str, ...] = tuple(name for name, label in LABEL_TABLE.items() if label.derived)


def label_definition(label: str) -> LabelDefinition:
    """The `LABEL_TABLE` entry of `label`.

    Raises:
        DataError: `label` is not in the table; the message names the known labels.

    Example:
        >>> label_definition("fwd_alpha_tstat_12m").window
        12
    """
    if label not in LABEL_TABLE:
        raise DataError(f"unknown label '{label}': choose one of {', '.join(LABEL_TABLE)}")
    return LABEL_TABLE[label]


def label_horizon_days(label: str) -> int:
    """The horizon of `label` in calendar days: how far its window reaches after the as-of date.

    Raises:
        DataError: `label` is not in the table.

    Example:
        >>> label_horizon_days("fwd_sharpe_30d"), label_horizon_days("fwd_alpha_tstat_12m")
        (30, 366)
    """
    return label_definition(label).horizon_days
