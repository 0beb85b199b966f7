"""Walk-forward evaluation of a ranking beside its baselines: quality, stability, luck and copying.

Every function reads one frame of out-of-sample scores, one row per (account_id, as_of_date) of the
walk-forward test dates, with:

- one score column per scorer, named by the scorer (``model`` and each baseline), higher = better;
- the forward labels ``fwd_sharpe_30d`` and ``fwd_return_30d`` (null where immature or unknown);
- ``skill``, the latent skill from ``truth/``, only in simulated worlds (never a feature);
- ``track_record_days`` and ``return_12m`` (or ``roi_since_inception``) for the lucky-beginner share.

Top-k lists order by score descending with account_id as the tie-break (the feed's order); accounts
without a score are never picked. The as-of grain is month-ends, so "consecutive dates" are months.
Nothing here talks to MLflow or KFP: the training step logs what these functions return.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from skfolio import measures

from components.errors import DataError
from components.evaluation.metrics import GAINS, Gain, ndcg_at_k, random_ndcg_at_k, relevance, spearman_ic
from feature_repo.feature_schema import ENTITY_KEY, EVENT_TIMESTAMP

LABEL = "fwd_sharpe_30d"
FORWARD_RETURN = "fwd_return_30d"
SKILL = "skill"
RANDOM = "random"  # the ranking table's row of a random order's expected metrics
PERIODS_PER_YEAR = 12  # one follower period per monthly as-of date
PORTFOLIO_TURNOVER = "turnover_12m"  # traded notional over average equity, a year (a feature)
FOLLOWER_COST = 0.001  # a follower's cost per unit of notional traded: 10 bps (spread and fees)
LUCKY_MAX_TRACK_RECORD_DAYS = 252  # a beginner has less than a year of daily returns
LUCKY_RETURN_PERCENTILE = 0.9  # ... and a trailing return in the top decile of its date


def require_columns(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise a KeyError naming the `columns` that `what` needs and `frame` lacks."""
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise DataError(f"{what} needs columns missing from the evaluation frame: {', '.join(missing)}")


def has_skill(frame: pd.DataFrame) -> bool:
    """Whether the frame carries latent skill (a simulated world's ground truth)."""
    return SKILL in frame.columns and bool(frame[SKILL].notna().any())


def evaluation_targets(frame: pd.DataFrame, label: str = LABEL) -> dict[str, str]:
    """Target name -> column: the forward `label` always, latent skill when the world has it."""
    return {"label": label} | ({"skill": SKILL} if has_skill(frame) else {})


def by_date(frame: pd.DataFrame) -> Iterator[tuple[pd.Timestamp, pd.DataFrame]]:
    """The frame's as-of dates in order, each with its rows."""
    for date, day in frame.groupby(EVENT_TIMESTAMP, sort=True):
        yield pd.Timestamp(date), day


def top_k(day: pd.DataFrame, column: str, k: int) -> list[str]:
    """Account ids of the k highest values of `column` (ties by account_id; missing values never).

    Only the rows at or above the k-th largest value are sorted, so that a large date stays cheap.
    """
    candidates = day[day[column].notna()]
    if len(candidates) > k:
        candidates = candidates[candidates[column] >= candidates[column].nlargest(k).iloc[-1]]
    ranked = candidates.sort_values([column, ENTITY_KEY], ascending=[False, True], kind="mergesort")
    return ranked[ENTITY_KEY].head(k).tolist()


def date_series(values: dict, name: str) -> pd.Series:
    """A float Series indexed by as-of date."""
    return pd.Series(values, name=name, dtype=float).rename_axis(EVENT_TIMESTAMP)


# ---------------------------------------------------------------------------------------------------
# Ranking quality


def precision_at_k(day: pd.DataFrame, scorer: str, target: str, k: int) -> float:
    """Share of the top-k by score that are also in the top-k by target.

    NaN when the date has k or fewer accounts with both values: picking all of them says nothing.
    """
    valid = day[day[scorer].notna() & day[target].notna()]
    if len(valid) <= k:
        return float("nan")
    return len(set(top_k(valid, scorer, k)) & set(top_k(valid, target, k))) / k


def rank_mae(truth: pd.Series, score: pd.Series) -> float:
    """Mean absolute difference of the cross-sectional percentile ranks of score and truth.

    Scores of different scorers live on different scales (a PSR is a probability, a model score a
    predicted rank), so the MAE of raw values compares nothing; the MAE of percentile ranks is on one
    scale for every scorer: 0 for a perfect ranking, about 1/3 for a random one, 1/2 for a reversed one.
    """
    if len(truth) < 2:
        return float("nan")
    return float(np.mean(np.abs(relevance(truth) - relevance(score))))


def date_metrics(
    day: pd.DataFrame, scorer: str, target: str, k_list: Sequence[int], gain: Gain = relevance
) -> dict[str, float]:
    """NDCG@k (with `gain`) and Precision@k for each k, rank MAE and Spearman IC of one scorer on one date."""
    valid = day[day[scorer].notna() & day[target].notna()]
    truth, score = valid[target], valid[scorer]
    metrics = {f"ndcg_at_{k}": ndcg_at_k(truth, score, k, gain) for k in k_list}
    metrics |= {f"precision_at_{k}": precision_at_k(valid, scorer, target, k) for k in k_list}
    return metrics | {"mae": rank_mae(truth, score), "ic": spearman_ic(truth, score), "n": float(len(valid))}


def random_metrics(day: pd.DataFrame, target: str, k_list: Sequence[int], gain: Gain) -> dict[str, float]:
    """What a random order scores on one date, in expectation: NDCG@k and Precision@k (k / n)."""
    truth = day[target].dropna()
    metrics = {f"ndcg_at_{k}": random_ndcg_at_k(truth, k, gain) for k in k_list}
    metrics |= {f"precision_at_{k}": k / len(truth) if len(truth) > k else float("nan") for k in k_list}
    return metrics | {"mae": float("nan"), "ic": float("nan"), "n": float(len(truth))}


@dataclass
class RankingTable:
    """Ranking metrics per (as-of date, scorer, target), and their means over the dates."""

    per_date: pd.DataFrame
    k_list: tuple[int, ...]

    @property
    def mean(self) -> pd.DataFrame:
        """One row per (scorer, target): each metric averaged over the as-of dates (NaN dates skipped)."""
        values = self.per_date.drop(columns=[EVENT_TIMESTAMP])
        return values.groupby(["scorer", "target"], sort=False).mean()

    def share_of_ceiling(self, metric: str = "ndcg_at_100", target: str = "skill") -> pd.Series:
        """Each scorer's mean `metric` over the ceiling's (empty without a ceiling or that target).

        Above 1 is a bug to explain (a leak), not a result: the ceiling learns skill itself.
        """
        mean = self.mean
        if ("ceiling", target) not in mean.index:
            return pd.Series(dtype=float, name=f"share_of_ceiling_{metric}")
        on_target = mean.xs(target, level="target")[metric]
        return (on_target / on_target["ceiling"]).drop("ceiling").rename(f"share_of_ceiling_{metric}")


def ranking_table(
    frame: pd.DataFrame, scorers: Sequence[str], k_list: Sequence[int] = (10, 100), label: str = LABEL
) -> RankingTable:
    """NDCG@k, Precision@k, rank MAE and Spearman IC per scorer, against the label and, if known, skill.

    Each as-of date is one cross-section: metrics are computed within it over the accounts that have
    both the score and the target, then averaged over the dates (`RankingTable.mean`).

    Args:
        frame: The per-test-date frame (see the module docstring).
        scorers: Score columns to evaluate, e.g. ``["model", "roi_log_days", "psr"]``.
        k_list: Cut-offs for NDCG@k and Precision@k.
        label: The forward label column (the one the model learned).
    """
    targets = evaluation_targets(frame, label)
    require_columns(frame, [ENTITY_KEY, EVENT_TIMESTAMP, *scorers, *targets.values()], "ranking_table")
    rows = [
        {EVENT_TIMESTAMP: date, "scorer": scorer, "target": name}
        | date_metrics(day, scorer, column, k_list, GAINS[name])
        for date, day in by_date(frame)
        for scorer in scorers
        for name, column in targets.items()
    ]
    rows += [  # the level any scorer must beat, beside them
        {EVENT_TIMESTAMP: date, "scorer": RANDOM, "target": name}
        | random_metrics(day, column, k_list, GAINS[name])
        for date, day in by_date(frame)
        for name, column in targets.items()
    ]
    return RankingTable(pd.DataFrame(rows), tuple(k_list))


# ---------------------------------------------------------------------------------------------------
# Stability of the recommendations


def consecutive_tops(frame: pd.DataFrame, scorer: str, k: int) -> Iterator[tuple[pd.Timestamp, set, set]]:
    """(date, previous date's top-k, this date's top-k) for every as-of date after the first."""
    require_columns(frame, [ENTITY_KEY, EVENT_TIMESTAMP, scorer], f"the top-{k} of {scorer!r}")
    tops = [(date, set(top_k(day, scorer, k))) for date, day in by_date(frame)]
    for (_, previous), (date, current) in zip(tops, tops[1:], strict=False):
        yield date, previous, current


def top_k_stability(frame: pd.DataFrame, scorer: str, k: int = 10) -> pd.Series:
    """Month-over-month top-k overlap: share of a month's top-k still in the next month's top-k.

    ``|top_k(t-1) ∩ top_k(t)| / max(|top_k(t-1)|, |top_k(t)|)`` for consecutive as-of dates (month-ends),
    indexed by the later date: 1 for an unchanged top-k, 0 for a disjoint one. The denominator is k
    unless a date has fewer than k scored accounts.
    """
    values = {
        date: len(previous & current) / max(len(previous), len(current)) if previous or current else np.nan
        for date, previous, current in consecutive_tops(frame, scorer, k)
    }
    return date_series(values, f"top_{k}_overlap")


def recommendation_turnover(frame: pd.DataFrame, scorer: str, k: int = 100) -> pd.Series:
    """Share of the previous as-of date's top-k that is no longer in the top-k: ``|A \\ B| / |A|``.

    Indexed by the later date; 0 for an unchanged top-k, 1 when every recommendation was replaced.
    """
    values = {
        date: len(previous - current) / len(previous) if previous else np.nan
        for date, previous, current in consecutive_tops(frame, scorer, k)
    }
    return date_series(values, f"top_{k}_turnover")


def portfolio_turnover(frame: pd.DataFrame, scorer: str, k: int = 100) -> pd.Series | None:
    """Per date, the median portfolio turnover of the scorer's top-k over the median of every account.

    The design's guard against promoting day-trading: a ranking whose recommendations trade several
    times as much as the platform's typical account has learnt activity, not skill (and costs its
    followers). 1 means the top-k trade like everyone else. None when the frame has no ``turnover_12m``.
    """
    if PORTFOLIO_TURNOVER not in frame.columns:
        return None
    values = {}
    for date, day in by_date(frame):
        typical = day[PORTFOLIO_TURNOVER].median()
        top = day.loc[day[ENTITY_KEY].isin(top_k(day, scorer, k)), PORTFOLIO_TURNOVER].median()
        values[date] = top / typical if typical > 0 else np.nan
    return date_series(values, f"top_{k}_portfolio_turnover_ratio")


# ---------------------------------------------------------------------------------------------------
# Lucky beginners


def trailing_return_column(frame: pd.DataFrame) -> str:
    """``return_12m`` if present, else ``roi_since_inception`` (the same for accounts under a year old)."""
    return "return_12m" if "return_12m" in frame.columns else "roi_since_inception"


def lucky_beginners(frame: pd.DataFrame) -> pd.Series | None:
    """Which rows are lucky beginners; None when the frame has no latent skill to tell luck from skill.

    A lucky beginner at an as-of date is an account with
    (1) a short track record: ``track_record_days < 252`` (under one year of daily returns),
    (2) a high trailing return: its ``return_12m`` (else ``roi_since_inception``) percentile rank
        among that date's accounts is above 0.9 (the top decile), and
    (3) no skill: latent ``skill <= 0`` (accounts without a known skill are never counted).
    """
    if not has_skill(frame):
        return None
    column = trailing_return_column(frame)
    require_columns(frame, [EVENT_TIMESTAMP, "track_record_days", column], "lucky_beginners")
    high = frame.groupby(EVENT_TIMESTAMP)[column].rank(pct=True) > LUCKY_RETURN_PERCENTILE
    return (frame["track_record_days"] < LUCKY_MAX_TRACK_RECORD_DAYS) & high & (frame[SKILL] <= 0)


def lucky_beginner_share(frame: pd.DataFrame, scorer: str, k: int = 100) -> pd.Series | None:
    """Per as-of date, the share of the scorer's top-k that are lucky beginners (see `lucky_beginners`).

    Returns None when the frame has no latent skill: without ground truth luck cannot be told apart.
    """
    lucky = lucky_beginners(frame)
    if lucky is None:
        return None
    marked = frame.assign(_lucky=lucky)
    values = {}
    for date, day in by_date(marked):
        picks = day[day[ENTITY_KEY].isin(top_k(day, scorer, k))]
        values[date] = float(picks["_lucky"].mean()) if len(picks) else np.nan
    return date_series(values, "lucky_beginner_share")


def lucky_beginner_base_rate(frame: pd.DataFrame) -> pd.Series | None:
    """Per as-of date, the share of all accounts that are lucky beginners: what a random pick gets."""
    lucky = lucky_beginners(frame)
    if lucky is None:
        return None
    return lucky.groupby(frame[EVENT_TIMESTAMP]).mean().astype(float).rename("lucky_beginner_base_rate")


# ---------------------------------------------------------------------------------------------------
# Follower backtest

MissingReturn = float | Literal["worst", "drop"]


@dataclass
class FollowerBacktest:
    """An equal-weight copy of a scorer's top-k, rebalanced at each as-of date."""

    returns: pd.Series  # period return per as-of date (held for the label horizon), before costs
    n_missing: pd.Series  # picks without a forward return, per as-of date
    costs: pd.Series | None = None  # trading cost per as-of date, as a return (None: not known)
    equity: pd.Series = field(init=False)
    sharpe: float = field(init=False)
    max_drawdown: float = field(init=False)
    net_sharpe: float = field(init=False)
    net_total_return: float = field(init=False)

    def __post_init__(self) -> None:
        self.equity = (1 + self.returns).cumprod().rename("equity")
        self.sharpe = annualised_sharpe(self.returns)
        self.max_drawdown = max_drawdown(self.returns)
        net = self.net_returns
        self.net_sharpe = annualised_sharpe(net) if net is not None else float("nan")
        self.net_total_return = float((1 + net).prod() - 1) if net is not None and len(net) else float("nan")

    @property
    def net_returns(self) -> pd.Series | None:
        """The period returns after the follower's trading costs (None when the costs are unknown)."""
        if self.costs is None:
            return None
        return self.returns - self.costs.reindex(self.returns.index).fillna(0.0)

    @property
    def total_return(self) -> float:
        """Compounded return over every period."""
        return float(self.equity.iloc[-1] - 1) if len(self.equity) else float("nan")


def annualised_sharpe(returns: pd.Series, periods_per_year: int = PERIODS_PER_YEAR) -> float:
    """Mean over sample standard deviation of the (non-missing) period returns, times sqrt(periods per year).

    Example:
        >>> round(annualised_sharpe(pd.Series([0.02, -0.01, 0.03]), periods_per_year=12), 4)
        2.2188
    """
    values = returns.dropna().to_numpy(dtype=float)
    if len(values) < 2 or not measures.standard_deviation(values) > 0:
        return float("nan")
    return float(measures.mean(values) / measures.standard_deviation(values) * np.sqrt(periods_per_year))


def max_drawdown(returns: pd.Series) -> float:
    """Largest peak-to-trough fall (>= 0) of the wealth path that starts at 1 and compounds `returns`.

    Example:
        >>> max_drawdown(pd.Series([0.2, -0.5, 0.5]))
        0.5
    """
    if returns.empty:
        return float("nan")
    # A zero return first puts the starting wealth of 1 on the path: a loss in the first period counts.
    path = np.concatenate([[0.0], returns.to_numpy(dtype=float)])
    return float(measures.max_drawdown(measures.get_drawdowns(path, compounded=True)))


def period_return(day: pd.DataFrame, picks: list[str], missing_return: MissingReturn) -> float:
    """Mean forward return of the picked accounts, missing ones treated as `missing_return` says."""
    returns = day.set_index(ENTITY_KEY).loc[picks, FORWARD_RETURN].astype(float)
    if missing_return == "drop":
        return float(returns.mean()) if returns.notna().any() else float("nan")
    fill = day[FORWARD_RETURN].min() if missing_return == "worst" else float(missing_return)
    return float(returns.fillna(fill).mean())


def follower_backtest(
    frame: pd.DataFrame,
    scorer: str,
    k: int = 50,
    missing_return: MissingReturn = "worst",
    cost: float = FOLLOWER_COST,
) -> FollowerBacktest:
    """Copy the scorer's top-k with equal weights at each as-of date and hold for the label horizon.

    The period return of a date is the mean ``fwd_return_30d`` of its picks. A pick's forward return is
    missing when the account closed in the window or had too few returns in it; copying it still lost
    or made something we cannot see. ``missing_return`` says what counts instead:

    - ``"worst"`` (default): the lowest forward return of any account at that date. Accounts that close
      are mostly ones that blew up, and dropping them would flatter a scorer that picks them
      (survivorship bias); the worst observed outcome is the conservative stand-in.
    - ``"drop"``: leave them out of the mean (the optimistic bound).
    - a number: that return, e.g. ``0.0`` for "the follower sat in cash".

    Dates where no account has a forward return yet (immature labels) are skipped.

    Net of costs (when the frame has ``turnover_12m``): a follower pays `cost` per unit of notional it
    trades, i.e. on the share of the copied book it switches from one investor to another at a rebalance
    (sold and bought: twice the share of the picks replaced) and on the copied investors' own trading
    over the month (their yearly turnover over 12). A ranking that favours day-traders pays for it here.

    Returns:
        The per-date returns, the compounded equity path, its annualised Sharpe ratio (sqrt(12): the
        periods are monthly) and its maximum drawdown, before and after costs.
    """
    require_columns(frame, [ENTITY_KEY, EVENT_TIMESTAMP, scorer, FORWARD_RETURN], "follower_backtest")
    known_turnover = PORTFOLIO_TURNOVER in frame.columns
    returns, n_missing, costs, held = {}, {}, {}, set()
    for date, day in by_date(frame):
        picks = top_k(day, scorer, k)
        if not picks or day[FORWARD_RETURN].isna().all():
            continue
        returns[date] = period_return(day, picks, missing_return)
        n_missing[date] = int(day.loc[day[ENTITY_KEY].isin(picks), FORWARD_RETURN].isna().sum())
        if known_turnover:
            switched = len(set(picks) - held) / len(picks)
            copied = (
                day.loc[day[ENTITY_KEY].isin(picks), PORTFOLIO_TURNOVER].fillna(0.0).mean() / PERIODS_PER_YEAR
            )
            costs[date] = cost * (2 * switched + copied)
        held = set(picks)
    return FollowerBacktest(
        date_series(returns, "return").dropna(),
        date_series(n_missing, "n_missing"),
        date_series(costs, "cost") if known_turnover else None,
    )


def backtest_table(backtests: dict[str, FollowerBacktest]) -> pd.DataFrame:
    """Sharpe, max drawdown, total and mean period return and number of periods, one row per scorer."""
    rows = {
        name: {
            "sharpe": test.sharpe,
            "max_drawdown": test.max_drawdown,
            "total_return": test.total_return,
            "net_sharpe": test.net_sharpe,
            "net_total_return": test.net_total_return,
            "mean_period_return": float(test.returns.mean()),
            "periods": len(test.returns),
        }
        for name, test in backtests.items()
    }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("scorer")


# ---------------------------------------------------------------------------------------------------
# Everything at once


@dataclass
class Evaluation:
    """Every evaluation of a set of scorers on one per-test-date frame (what the report shows)."""

    scorers: tuple[str, ...]
    label: str  # the forward label the "label" target is
    ranking: RankingTable
    stability: pd.DataFrame  # as_of_date x scorer: month-over-month top-`stability_k` overlap
    turnover: pd.DataFrame  # as_of_date x scorer: share of the top-`turnover_k` replaced
    portfolio_turnover: pd.DataFrame | None  # as_of_date x scorer: top-`turnover_k`'s trading vs all
    lucky: pd.DataFrame | None  # as_of_date x scorer (+ base rate); None without latent skill
    backtests: dict[str, FollowerBacktest]
    stability_k: int
    turnover_k: int
    lucky_k: int
    follower_k: int

    @property
    def has_skill(self) -> bool:
        """Whether metrics against latent skill were computed."""
        return "skill" in set(self.ranking.per_date["target"])


def portfolio_turnover_table(frame: pd.DataFrame, scorers: Sequence[str], k: int) -> pd.DataFrame | None:
    """`portfolio_turnover` of each scorer, one column each; None without ``turnover_12m``."""
    if PORTFOLIO_TURNOVER not in frame.columns:
        return None
    return pd.DataFrame({scorer: portfolio_turnover(frame, scorer, k) for scorer in scorers})


def lucky_table(frame: pd.DataFrame, scorers: Sequence[str], k: int) -> pd.DataFrame | None:
    """Lucky-beginner share per date of each scorer's top-k, beside the base rate of all accounts."""
    base = lucky_beginner_base_rate(frame)
    if base is None:
        return None
    shares = {scorer: lucky_beginner_share(frame, scorer, k) for scorer in scorers}
    return pd.DataFrame(shares | {"all accounts": base})


def evaluate_scorers(
    frame: pd.DataFrame,
    scorers: Sequence[str],
    *,
    k_list: Sequence[int] = (10, 100),
    stability_k: int = 10,
    turnover_k: int = 100,
    lucky_k: int = 100,
    follower_k: int = 50,
    missing_return: MissingReturn = "worst",
    label: str = LABEL,
) -> Evaluation:
    """Run every evaluation of this module for each scorer on the per-test-date frame."""
    return Evaluation(
        scorers=tuple(scorers),
        label=label,
        ranking=ranking_table(frame, scorers, k_list, label),
        stability=pd.DataFrame({s: top_k_stability(frame, s, stability_k) for s in scorers}),
        turnover=pd.DataFrame({s: recommendation_turnover(frame, s, turnover_k) for s in scorers}),
        portfolio_turnover=portfolio_turnover_table(frame, scorers, turnover_k),
        lucky=lucky_table(frame, scorers, lucky_k),
        backtests={s: follower_backtest(frame, s, follower_k, missing_return) for s in scorers},
        stability_k=stability_k,
        turnover_k=turnover_k,
        lucky_k=lucky_k,
        follower_k=follower_k,
    )
