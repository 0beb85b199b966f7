"""The account x as-of grid, its trailing windows, and the feature columns read from the window sums.

Per-period sums (`components.features.returns`, `components.features.trading`) are added up over the
trailing 12 periods (and 3 and 6) with running windows at the monthly grain, never with sliding
windows over daily rows; each group of feature columns (returns, risk, evidence and tail, trading) is
then a list of column expressions of `components.features.stats` over those sums.
"""

from __future__ import annotations

from functools import reduce

from pyspark.sql import Column, DataFrame, Window, WindowSpec
from pyspark.sql import functions as F

from components.features.calendar import TRAILING_MONTHS
from components.features.returns import MARKET_SUMS, MOMENT_SUMS, SUMS
from components.features.stats import (
    ANNUALISE,
    annualised_sharpe,
    annualised_sortino,
    compounded,
    gaussian_var_cvar,
    historical_var_cvar,
    market_regression,
    probabilistic_sharpe,
    sample_sd,
    sample_variance,
    skewness_and_kurtosis,
    t_statistic,
)
from components.features.trading import EDGE_LAGS, EDGE_SUMS, KEYS, edge_sum_names
from feature_repo.feature_schema import ENTITY_KEY

SHORT_WINDOWS = (3, 6)  # months of the shorter Sharpe and Sortino windows
MIN_EDGE_TRADES = 5
DAYS_PER_MONTH = 365.25 / 12
MONTH_SUMS = ("months_n", "months_sum", "months_sum_sq")  # of the compounded return of each period
EQUITY_SUMS = ("sum_equity", "n_equity")  # of daily equity, for the average equity of a window
ACTIVITY_SUMS = ("trades", "notional")
HOLDINGS = ("n_tickers", "hhi", "top3_share", "max_sector_share", "sector_count", "index_share")


def account_grid(accounts: DataFrame, monthly: DataFrame, asof: DataFrame) -> DataFrame:
    """(account_id, period, as_of, opened_at) for each account open at T with a snapshot by T."""
    first_snapshot = monthly.groupBy(ENTITY_KEY).agg(F.min("first_date").alias("first_snapshot"))
    is_open = (F.col("opened_at") <= F.col("as_of")) & (
        F.col("closed_at").isNull() | (F.col("closed_at") > F.col("as_of"))
    )
    return (
        accounts.join(F.broadcast(asof.select("period", "as_of")), is_open)
        .join(first_snapshot, ENTITY_KEY)
        .where(F.col("first_snapshot") <= F.col("as_of"))
        .select(ENTITY_KEY, "period", "as_of", "opened_at")
    )


def lag_name(column: str, k: int) -> str:
    """The name of `column` k grid rows back (k = 0: the column itself)."""
    return column if k == 0 else f"{column}_lag{k}"


def lagged(columns: list[str], by_account: WindowSpec) -> list[Column]:
    """``<column>_lag<k>``: the value k grid rows back, for k = 1 .. 11."""
    return [
        F.lag(column, k).over(by_account).alias(lag_name(column, k))
        for k in range(1, TRAILING_MONTHS)
        for column in columns
    ]


def trailing_log_drawdown() -> Column:
    """Largest fall of log-wealth within the trailing 12 periods, combined from per-period extremes.

    The largest fall is either inside one period (``fall_12m``: the largest of the window) or from
    the highest level ``peak`` of an earlier period i to the lowest level ``trough`` of a later period
    j, both in the window. Reads ``period``, ``peak``, ``trough`` and their lags (``lagged``), which
    count only when the lagged row's period is in the window.
    """

    def in_window(column: str, k: int) -> Column:
        inside = F.col(lag_name("period", k)) >= F.col("period") - (TRAILING_MONTHS - 1)
        return F.when(inside, F.col(lag_name(column, k)))

    falls = [F.col("fall_12m")]
    for j in range(TRAILING_MONTHS - 1):
        earlier_peaks = [in_window("peak", i) for i in range(j + 1, TRAILING_MONTHS)]
        earlier_peak = earlier_peaks[0] if len(earlier_peaks) == 1 else F.greatest(*earlier_peaks)
        falls.append(earlier_peak - in_window("trough", j))
    return F.greatest(*falls)


def rolled_panel(grid: DataFrame, monthly: DataFrame, activity: DataFrame, held: DataFrame) -> DataFrame:
    """The grid with the window sums every feature needs, each a named column computed once.

    ``<sum>_12m`` adds a per-period sum up over the trailing 12 periods (``_3m``, ``_6m``: the
    shorter windows); ``tail_12m`` gathers the periods' smallest returns; ``grid_months_12m`` counts
    the as-of dates of the window the account was on the grid (open, with a snapshot); the trade-edge
    sums count a trade once its window has closed. Running figures since inception, the net deposits
    at T and the per-period holdings ride along.

    Args:
        grid: (account_id, period, as_of, opened_at), from `account_grid`.
        monthly: Per (account, period) sums, from `monthly_returns`.
        activity: Per (account, period) trade sums, from `components.features.trading.trade_activity`.
        held: Per (account, period) holdings, from `components.features.trading.holdings`.
    """
    by_account = Window.partitionBy(ENTITY_KEY).orderBy("period")
    year = trailing(by_account, TRAILING_MONTHS)
    to_date = by_account.rowsBetween(Window.unboundedPreceding, 0)
    before = by_account.rowsBetween(Window.unboundedPreceding, -1)
    start_level = F.coalesce(F.sum("sum_log").over(before), F.lit(0.0))
    month_return = F.col("month_return")
    return (
        grid.join(monthly, KEYS, "left")
        .join(activity, KEYS, "left")
        .join(held, KEYS, "left")
        .withColumn("start_level", start_level)
        .select(
            *KEYS,
            "as_of",
            "opened_at",
            *HOLDINGS,
            "sector_momentum",
            (F.col("start_level") + F.col("high")).alias("peak"),
            (F.col("start_level") + F.col("low")).alias("trough"),
            *[
                F.sum(name).over(year).alias(f"{name}_12m")
                for name in (*SUMS, *MOMENT_SUMS, *MARKET_SUMS, *EQUITY_SUMS, *ACTIVITY_SUMS)
            ],
            *[
                F.sum(name).over(trailing(by_account, months)).alias(f"{name}_{months}m")
                for months in SHORT_WINDOWS
                for name in SUMS
            ],
            F.flatten(F.collect_list("tail").over(year)).alias("tail_12m"),
            *[
                aggregate.over(year).alias(f"{name}_12m")
                for name, aggregate in zip(
                    MONTH_SUMS,
                    (F.count(month_return), F.sum(month_return), F.sum(month_return**2)),
                    strict=True,
                )
            ],
            F.count(F.lit(1)).over(year).alias("grid_months_12m"),
            F.sum(F.coalesce("gross_value", F.lit(0.0))).over(year).alias("gross_value_12m"),
            *closed_edge_sums(by_account),
            F.max("fall").over(year).alias("fall_12m"),
            F.coalesce(F.sum("n").over(to_date), F.lit(0)).alias("track_record"),
            F.sum("sum_log").over(to_date).alias("sum_log_to_date"),
            F.last("net_deposit", ignorenulls=True).over(to_date).alias("net_deposits"),
        )
        .select("*", *lagged(["period", "peak", "trough"], by_account))
    )


def closed_edge_sums(by_account: WindowSpec) -> list[Column]:
    """``edge_<sum>_12m``: the edge sums of the trailing 12 periods' trades whose window closed by T.

    A trade of period q whose 10-day window closes ``lag`` periods later counts at T (period p) when
    q is in the window and q + lag <= p: its sums are added up over the periods p - 11 .. p - lag.
    """
    columns = []
    for i, name in enumerate(EDGE_SUMS):
        parts = [
            F.coalesce(
                F.sum(edge_sum_names(lag)[i]).over(trailing(by_account, TRAILING_MONTHS, -lag)), F.lit(0)
            )
            for lag in EDGE_LAGS
        ]
        columns.append(reduce(Column.__add__, parts).alias(f"edge_{name}_12m"))
    return columns


def trailing(by_account: WindowSpec, months: int, end: int = 0) -> WindowSpec:
    """The periods ``p - months + 1 .. p + end`` of each grid row's period p (end <= 0)."""
    return by_account.rangeBetween(-(months - 1), end)


def window_sums(names: tuple[str, ...], months: int) -> list[Column]:
    """The `rolled_panel` columns of `names` summed over the trailing `months`."""
    return [F.col(f"{name}_{months}m") for name in names]


def return_columns() -> list[Column]:
    """Risk-adjusted returns, volatility, drawdown and returns over the windows, and the track record."""
    n, total, total_sq, down_sq, total_log = window_sums(SUMS, TRAILING_MONTHS)
    has_returns = n > 0
    shorter = []
    for months in SHORT_WINDOWS:
        n_m, total_m, total_sq_m, down_sq_m, _ = window_sums(SUMS, months)
        shorter += [
            annualised_sharpe(n_m, total_m, total_sq_m).alias(f"sharpe_{months}m"),
            annualised_sortino(n_m, total_m, down_sq_m).alias(f"sortino_{months}m"),
        ]
    return [
        annualised_sharpe(n, total, total_sq).alias("sharpe_12m"),
        annualised_sortino(n, total, down_sq).alias("sortino_12m"),
        (sample_sd(n, total, total_sq) * ANNUALISE).alias("volatility_12m"),
        F.when(has_returns, 1 - F.exp(-trailing_log_drawdown())).alias("max_drawdown_12m"),
        F.when(has_returns, compounded(total_log)).alias("return_12m"),
        F.datediff("as_of", "opened_at").alias("tenure_days"),
        F.col("track_record").alias("track_record_days"),
        F.when(F.col("track_record") > 0, compounded(F.col("sum_log_to_date"))).alias("roi_since_inception"),
        F.coalesce(n, F.lit(0)).alias("returns_12m"),
        *shorter,
        sample_variance(*window_sums(MONTH_SUMS, TRAILING_MONTHS)).alias("monthly_return_var_12m"),
    ]


def risk_columns() -> list[Column]:
    """Moments, Gaussian VaR and CVaR of the 12-month daily returns, and their regression on the S&P 500."""
    n, total, total_sq, _, _ = window_sums(SUMS, TRAILING_MONTHS)
    skew, kurtosis = skewness_and_kurtosis(n, total, total_sq, *window_sums(MOMENT_SUMS, TRAILING_MONTHS))
    var_param, cvar_param = gaussian_var_cvar(n, total, total_sq)
    market = market_regression(*window_sums(MARKET_SUMS, TRAILING_MONTHS))
    return [
        skew.alias("skew_12m"),
        kurtosis.alias("kurtosis_12m"),
        market["beta"].alias("beta_12m"),
        market["alpha"].alias("alpha_12m"),
        market["alpha_t"].alias("alpha_tstat_12m"),
        var_param.alias("var_95_param_12m"),
        cvar_param.alias("cvar_95_param_12m"),
        market["corr"].alias("corr_spx_12m"),
    ]


def evidence_and_tail_columns() -> list[Column]:
    """PSR and historical VaR and CVaR, from columns of the previous step (``sharpe_12m``, ``skew_12m``,
    ``kurtosis_12m``, ``returns_12m`` and the sorted ``tail_12m``).

    A step of its own: their formulas use each input several times, and Spark does not share a
    sub-expression inside a conditional branch, so they read finished columns, not expressions.
    """
    n = F.col("returns_12m")
    sharpe_per_day = F.col("sharpe_12m") / ANNUALISE
    var_hist, cvar_hist = historical_var_cvar(F.col("tail_12m"), n)
    return [
        probabilistic_sharpe(sharpe_per_day, n, F.col("skew_12m"), F.col("kurtosis_12m")).alias("psr_12m"),
        var_hist.alias("var_95_hist_12m"),
        cvar_hist.alias("cvar_95_hist_12m"),
    ]


def trading_columns() -> list[Column]:
    """Trade count and frequency, turnover, holding period and the edge of trades, trailing 12 months.

    - ``trade_frequency``: trades per as-of date the account was on the grid in the window;
    - ``turnover_12m``: traded notional over average daily equity, scaled to 12 months;
    - ``avg_holding_days``: average holding period by Little's law, inventory over throughput: the
      mean month-end position value over half the traded notional per day (null without trades);
    - ``trade_edge_tstat_12m``: t-statistic of the trades' signed 10-day returns over the S&P 500,
      counting only windows closed by T (null for fewer than 5 trades).
    """
    trades, notional, months = (
        F.coalesce("trades_12m", F.lit(0)),
        F.col("notional_12m"),
        F.col("grid_months_12m"),
    )
    average_equity = F.try_divide(F.col("sum_equity_12m"), F.col("n_equity_12m"))
    notional_per_day = F.try_divide(notional, months * DAYS_PER_MONTH)
    average_positions = F.col("gross_value_12m") / months
    return [
        trades.alias("trade_count_12m"),
        (trades / months).alias("trade_frequency"),
        F.when(
            average_equity > 0, F.coalesce(notional, F.lit(0.0)) / average_equity * TRAILING_MONTHS / months
        ).alias("turnover_12m"),
        F.try_divide(2 * average_positions, notional_per_day).alias("avg_holding_days"),
        t_statistic(
            *window_sums(tuple(f"edge_{name}" for name in EDGE_SUMS), TRAILING_MONTHS), MIN_EDGE_TRADES
        ).alias("trade_edge_tstat_12m"),
    ]
