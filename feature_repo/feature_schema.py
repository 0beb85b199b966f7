"""The features skillrank computes per (account_id, as_of_date): names, types and meanings.

This list is the contract between the Spark feature job (which must write exactly these columns),
the Feast feature views (built from it), training and serving. Add a feature here first.
"""

from __future__ import annotations

ENTITY_KEY = "account_id"
EVENT_TIMESTAMP = "as_of_date"

# name -> description. Every feature is stored as float64.
FEATURES: dict[str, str] = {
    "sharpe_12m": "Annualised Sharpe ratio of flow-adjusted daily returns over the trailing 12 months.",
    "sortino_12m": "Annualised Sortino ratio over the trailing 12 months.",
    "volatility_12m": "Annualised volatility of daily returns over the trailing 12 months.",
    "max_drawdown_12m": "Largest peak-to-trough fall of the wealth index in the trailing 12 months (>= 0).",
    "return_12m": "Compounded flow-adjusted return over the trailing 12 months.",
    "hhi": "Herfindahl-Hirschman index of absolute position values at the as-of date.",
    "n_tickers": "Number of symbols held at the as-of date.",
    "trade_count_12m": "Number of trades in the trailing 12 months.",
    "tenure_days": "Calendar days since the account opened.",
    "track_record_days": "Number of daily returns the account has up to the as-of date.",
    "roi_since_inception": "Compounded flow-adjusted return since the account opened.",
    "market_vol_21d": "Annualised 21-day realised volatility of the S&P 500 (a VIX stand-in).",
    "returns_12m": "Number of daily returns in the trailing 12 months: the n of every *_12m statistic.",
    "skew_12m": "Skewness of daily returns over the trailing 12 months (population moments).",
    "kurtosis_12m": "Kurtosis of daily returns over the trailing 12 months; not excess (normal: 3).",
    "beta_12m": "Beta of daily returns to the S&P 500's return over the same days, trailing 12 months.",
    "alpha_12m": "Annualised intercept of daily returns regressed on the S&P 500's, trailing 12 months.",
    "alpha_tstat_12m": "t-statistic of alpha_12m: market-adjusted evidence of skill, trailing 12 months.",
}

# Labels, computed strictly after the as-of date. Never features.
LABELS: dict[str, str] = {
    "fwd_sharpe_30d": "Annualised Sharpe ratio of daily returns in the 30 days after the as-of date.",
    "fwd_return_30d": "Compounded return in the 30 days after the as-of date.",
}
