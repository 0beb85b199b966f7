"""The Spark feature job: point-in-time features and forward labels per (account_id, as_of_date).

`build_features` reads the clean tables of a data root and writes ``features/`` (the columns of
`feature_repo.feature_schema.FEATURES`: risk-adjusted returns, risk and tail measures, the market
regression, holdings, activity and the edge of trades, since-inception evidence of skill, and the
market context) and ``labels/`` (`components.labels.LABELS`). As-of dates T are the last trading day
of each month; point in time, a feature at T reads only rows dated on or before T and a label only
rows dated strictly after T. Daily rows are summarised once per account and month, and every
window is combined from those summaries at the monthly grain.
"""

from components.features.job import build_features

__all__ = ["build_features"]
