"""Stage 1 of the feed: the retrieval index of eligible accounts the ranking model then scores.

Retrieval is cheap and coarse on purpose: it keeps accounts that trade, hold more than one or two
positions and have a track record, and caps their number with a prior so the predictor scores
hundreds, not millions, of accounts. The prior is the t-statistic of the mean return since inception,
the single feature that ranks latent skill best in the study (docs/SKILL_VS_LUCK.md): a cap by the
12-month Sharpe ratio would cut skilled accounts whose last year was merely good. The prior only
decides who is cut at the cap; the feed's order is the ranking model's (see `components.scoring.finalize`).

Each candidate carries its main sector at the index's as-of date (the feature job's ``main_sector``
column, beside the Feast features), which the feed's sector filter and diversity cap read.
"""

from __future__ import annotations

import pandas as pd
import pyarrow.dataset

from components.config.layout import DataLayout
from components.config.settings import Settings
from components.errors import DataError, require_columns
from components.store.feast_io import read_point_in_time_table
from feature_repo.feature_schema import ENTITY_KEY, EVENT_TIMESTAMP, MAIN_SECTOR, RETRIEVAL_INPUTS

PRIOR = "sharpe_tstat_inception"  # one of the RETRIEVAL_INPUTS (the retrieval_v1 feature service)
SECTOR = "sector"  # the index's main-sector column, as `inference.snapshot.SECTOR` reads it
INDEX_COLUMNS = [ENTITY_KEY, EVENT_TIMESTAMP, "prior"]


class RetrievalIndex:
    """Eligible accounts at one as-of date, best prior first, at most ``max_candidates`` of them.

    An account is eligible when it traded at least ``min_trades`` times in 12 months, its
    diversification ``1 - hhi`` is at least ``min_diversification`` and it has a track record.
    Missing values make an account ineligible; a missing prior sorts last. When the latest features
    have a ``main_sector`` column, the index carries it as ``sector``.

    Args:
        min_trades: Fewest trades in the trailing 12 months.
        min_diversification: Smallest ``1 - hhi`` (0 = one position, near 1 = many equal ones).
        max_candidates: Cap on the number of candidates.

    Example:
        >>> latest = pd.DataFrame({"account_id": ["a", "b", "c"], "as_of_date": pd.Timestamp("2021-06-30"),
        ...                        "trade_count_12m": [40.0, 3.0, 25.0], "hhi": [0.2, 0.2, 0.5],
        ...                        "track_record_days": [300.0, 300.0, 80.0],
        ...                        "sharpe_tstat_inception": [0.4, 2.0, 1.1]})
        >>> RetrievalIndex(min_trades=10, min_diversification=0.2, max_candidates=10).fit(latest).index_[
        ...     "account_id"].tolist()
        ['c', 'a']
    """

    def __init__(self, *, min_trades: int = 10, min_diversification: float = 0.2, max_candidates: int = 1000):
        self.min_trades = min_trades
        self.min_diversification = min_diversification
        self.max_candidates = max_candidates

    def fit(self, latest_features: pd.DataFrame) -> RetrievalIndex:
        """Select and order the candidates of `latest_features` (one row per account).

        Returns:
            self, with ``index_`` (account_id, as_of_date, prior and, when known, sector) and
            ``n_eligible_`` set.

        Raises:
            DataError: `latest_features` lacks a retrieval input, or ``max_candidates`` is below 1.
        """
        require_columns(
            latest_features.columns,
            [ENTITY_KEY, EVENT_TIMESTAMP, *RETRIEVAL_INPUTS],
            "retrieval's latest features",
        )
        if self.max_candidates < 1:
            raise DataError(f"max_candidates must be at least 1, got {self.max_candidates}")
        eligible = latest_features[self._eligible(latest_features)]
        ranked = eligible.assign(prior=eligible[PRIOR]).sort_values(
            ["prior", ENTITY_KEY], ascending=[False, True], na_position="last", kind="mergesort"
        )
        columns = INDEX_COLUMNS + ([MAIN_SECTOR] if MAIN_SECTOR in ranked else [])
        self.n_eligible_ = len(eligible)
        self.index_ = (
            ranked.head(self.max_candidates)[columns]
            .rename(columns={MAIN_SECTOR: SECTOR})
            .reset_index(drop=True)
        )
        return self

    def _eligible(self, frame: pd.DataFrame) -> pd.Series:
        return (
            (frame["trade_count_12m"] >= self.min_trades)
            & (frame["hhi"] <= 1.0 - self.min_diversification)  # 1 - hhi >= min, exact at the bound
            & (frame["track_record_days"] > 0)
        )


def build_retrieval_index(latest_features: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """The candidates of `latest_features` under the eligibility rules of `settings`.

    Returns:
        DataFrame with account_id, as_of_date, prior and (when the features have it) sector, best
        prior first.
    """
    retrieval = RetrievalIndex(
        min_trades=settings.min_trades,
        min_diversification=settings.min_diversification,
        max_candidates=settings.max_candidates,
    )
    return retrieval.fit(latest_features).index_


def write_retrieval_index(layout: DataLayout, settings: Settings) -> int:
    """Build the index from the latest as-of date of ``features/`` and write it; returns its size.

    A feature table written before the main sector was (no ``main_sector`` column) gives an index
    without sectors, which the feed serves without its sector filter.
    """
    columns = [ENTITY_KEY, EVENT_TIMESTAMP, *RETRIEVAL_INPUTS]
    if layout.features.exists() and MAIN_SECTOR in pyarrow.dataset.dataset(layout.features).schema.names:
        columns.append(MAIN_SECTOR)  # (no table: the read below says so)
    features = read_point_in_time_table(layout.features, columns)
    latest = features[features[EVENT_TIMESTAMP] == features[EVENT_TIMESTAMP].max()]
    index = build_retrieval_index(latest, settings)
    layout.retrieval_index.parent.mkdir(parents=True, exist_ok=True)
    index.to_parquet(layout.retrieval_index, index=False)
    return len(index)
