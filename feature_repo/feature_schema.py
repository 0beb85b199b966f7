"""The features skillrank computes per (account_id, as_of_date): names, types and meanings.

This list is the contract between the Spark feature job (which must write exactly these columns),
the Feast feature views (built from it), training and serving. Add a feature here first. Below it,
what each consumer reads, by name: `feature_repo.definitions` declares a feature service for each.
Labels are not features: they live in `components.labels.definitions`.
"""

from __future__ import annotations

ENTITY_KEY = "account_id"
MAIN_SECTOR = "main_sector"  # a string column of features/, not a Feast feature: what the feed filters by
EVENT_TIMESTAMP = "as_of_date"

# Post-trade evidence (components/features/post_trade.py): per trade, the traded symbol's return over the
# h trading days after it minus the equal-weight platform universe's, signed by the side, counted once
# its window has closed by the as-of date; per horizon h and window, the mean and its t-statistic.
POST_TRADE_HORIZONS: tuple[int, ...] = (5, 10, 20)
POST_TRADE_WINDOWS: dict[str, str] = {
    "inception": "since inception",
    "12m": "closed in the trailing 12 months",
}


def post_trade_names(horizon: int, window: str) -> tuple[str, str]:
    """(mean, t-statistic) feature names of one post-trade horizon and window of `POST_TRADE_WINDOWS`.

    Example:
        >>> post_trade_names(10, "inception")
        ('post_trade_mean_10d_inception', 'post_trade_tstat_10d_inception')
    """
    return f"post_trade_mean_{horizon}d_{window}", f"post_trade_tstat_{horizon}d_{window}"


def _post_trade_features() -> dict[str, str]:
    features = {}
    for horizon in POST_TRADE_HORIZONS:
        for window, span in POST_TRADE_WINDOWS.items():
            mean_name, tstat_name = post_trade_names(horizon, window)
            what = (
                f"signed {horizon}-day return after each trade over the equal-weight universe, windows {span}"
            )
            features[mean_name] = f"Mean {what}."
            features[tstat_name] = f"t-statistic (mean / sd x sqrt(n)) of the {what}."
    return features


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
    # Risk-adjusted returns over shorter windows, and the evidence behind the 12-month Sharpe ratio.
    "sharpe_3m": "Annualised Sharpe ratio of daily returns over the trailing 3 months.",
    "sharpe_6m": "Annualised Sharpe ratio of daily returns over the trailing 6 months.",
    "sortino_3m": "Annualised Sortino ratio (target 0) over the trailing 3 months.",
    "sortino_6m": "Annualised Sortino ratio (target 0) over the trailing 6 months.",
    "psr_12m": "Probabilistic Sharpe ratio: P(true Sharpe > 0) from sharpe_12m, skew, kurtosis and n.",
    # Tail risk of daily returns, as positive losses.
    "var_95_hist_12m": "Historical 95% value at risk of daily returns, trailing 12 months (a loss, > 0).",
    "cvar_95_hist_12m": "Historical 95% CVaR: mean of the worst 5% of daily returns, trailing 12 months.",
    "var_95_param_12m": "Gaussian 95% value at risk of daily returns (1.645 sd - mean), trailing 12 months.",
    "cvar_95_param_12m": "Gaussian 95% CVaR of daily returns (2.063 sd - mean), trailing 12 months.",
    "corr_spx_12m": "Correlation of daily returns with the S&P 500's over the same days, trailing 12 months.",
    "monthly_return_var_12m": "Sample variance of the compounded monthly returns of the trailing 12 months.",
    # Holdings at the as-of date (absolute position values; the index is no sector's holding).
    "top3_share": "Share of the three largest positions in the total position value at the as-of date.",
    "max_sector_share": "Largest share of the total position value held in one stock sector.",
    "sector_count": "Number of stock sectors held at the as-of date (the index not counted).",
    "index_share": "Share of the total position value held in the S&P 500 itself.",
    # Activity and the edge of trades, trailing 12 months.
    "trade_frequency": "Trades per month over the trailing 12 months (months the account was open).",
    "avg_holding_days": "Average holding period in days: position value over half the daily traded notional.",
    "turnover_12m": "Traded notional over average equity, trailing 12 months, scaled to a year.",
    "trade_edge_tstat_12m": "t-stat of trades' signed 10-day return over the S&P 500, windows closed by T.",
    "net_deposits": "Cumulative deposits minus withdrawals at the as-of date (currency units).",
    # Market context at the as-of date.
    "spx_trend_12m": "Return of the S&P 500 over the trailing 12 months.",
    "spx_drawdown": "Fall of the S&P 500 from its highest close up to the as-of date (>= 0).",
    "sector_momentum": "12-1 month momentum of the sectors held, weighted by position value.",
    # Evidence of a persistent edge over the whole record (components/evidence.py): the ranker's inputs.
    "sharpe_tstat_inception": "t-statistic of the mean daily return since inception (Sharpe x sqrt(years)).",
    "alpha_tstat_inception": "t-statistic of the alpha over the S&P 500 since inception.",
    "universe_alpha_tstat_inception": "t-statistic of the alpha over the equal-weight platform universe, "
    "since inception.",
    # Evidence of trade timing: what each trade's side said about the prices that followed it.
    **_post_trade_features(),
}

# What each consumer reads, in its order: each tuple is a feature service of `feature_repo.definitions`.
# The ranking model's inputs, the evidence of a persistent edge (docs/SKILL_VS_LUCK.md), in the model's
# order. Risk and behaviour features stay out of it: they shape the feed through scoring and filters.
RANKER_INPUTS: tuple[str, ...] = (
    "sharpe_tstat_inception",
    "alpha_tstat_inception",
    "universe_alpha_tstat_inception",
    "alpha_tstat_12m",
    "sharpe_12m",
    "track_record_days",
)
# Shrinkage, the luck tests, the probability of skill (the universe alpha's t-statistic) and the
# concentration penalty of `components.scoring.finalize`.
SCORING_INPUTS: tuple[str, ...] = (
    "track_record_days",
    "returns_12m",
    "sharpe_12m",
    "skew_12m",
    "kurtosis_12m",
    "hhi",
    "universe_alpha_tstat_inception",
)
# Eligibility (trades, diversification, a track record) and the prior of `components.store.retrieval`.
RETRIEVAL_INPUTS: tuple[str, ...] = ("trade_count_12m", "hhi", "track_record_days", "sharpe_tstat_inception")
# The feed of a model on the ranker's inputs: those inputs (whose values the explanations quote) and the
# scoring inputs, each once.
FEED_INPUTS: tuple[str, ...] = tuple(dict.fromkeys(RANKER_INPUTS + SCORING_INPUTS))

# Fresh features (components/features/streaming.py): per account, what happened since its last daily
# snapshot, computed by the streaming job from trade and snapshot events and pushed to the online store
# through a Feast push source. The daily batch (FEATURES above) stays the source of truth.
INTRADAY_TIMESTAMP = "event_timestamp"  # the latest event behind an account's intraday values
INTRADAY_FEATURES: dict[str, str] = {
    "intraday_trades": "Trades since the account's last daily snapshot.",
    "intraday_notional": "Traded notional (sum of |qty| x price) since the last daily snapshot.",
    "intraday_equity": "Equity of the account's latest intraday snapshot event.",
    "intraday_return": "Flow-adjusted return since the last daily snapshot: intraday equity over "
    "(snapshot equity + net deposits since) - 1.",
}
