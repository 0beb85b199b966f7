"""Walk-forward evaluation (`components.evaluation.evaluate`) and its HTML report (`.report`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from components.errors import DataError
from components.evaluation.evaluate import (
    RANDOM,
    annualised_sharpe,
    evaluate_scorers,
    follower_backtest,
    lucky_beginner_share,
    lucky_beginners,
    max_drawdown,
    portfolio_turnover,
    ranking_table,
    recommendation_turnover,
    top_k_stability,
)
from components.evaluation.report import NO_GROUND_TRUTH, evaluation_summary, write_evaluation_report

DATES = pd.date_range("2021-01-31", periods=4, freq="ME")
N_ACCOUNTS = 30
IDS = [f"a{i:02d}" for i in range(N_ACCOUNTS)]


def world(seed: int = 7, with_skill: bool = True) -> pd.DataFrame:
    """Four monthly test dates of 30 accounts: labels noisy in skill, a model that sees skill dimly."""
    rng = np.random.default_rng(seed)
    skill = rng.normal(size=N_ACCOUNTS)
    days = []
    for date in DATES:
        label = skill + rng.normal(scale=1.0, size=N_ACCOUNTS)
        days.append(
            pd.DataFrame(
                {
                    "account_id": IDS,
                    "as_of_date": date,
                    "skill": skill,
                    "fwd_sharpe_30d": label,
                    "fwd_return_30d": label / 20,
                    "track_record_days": rng.integers(30, 800, size=N_ACCOUNTS).astype(float),
                    "return_12m": rng.normal(0.05, 0.3, size=N_ACCOUNTS),
                    "model": skill + rng.normal(scale=0.7, size=N_ACCOUNTS),
                    "perfect": label,
                    "reversed": -label,
                }
            )
        )
    frame = pd.concat(days, ignore_index=True)
    return frame if with_skill else frame.drop(columns="skill")


def test_a_perfect_scorer_has_ndcg_and_precision_one():
    mean = ranking_table(world(), ["perfect"], k_list=(5, 10)).mean.loc[("perfect", "label")]
    assert mean[["ndcg_at_5", "ndcg_at_10", "precision_at_5", "precision_at_10", "ic"]].tolist() == (
        pytest.approx([1.0] * 5)
    )
    assert mean["mae"] == pytest.approx(0.0)


def test_a_reversed_scorer_ranks_worse_on_every_metric():
    mean = ranking_table(world(), ["perfect", "reversed"], k_list=(5, 10)).mean
    perfect, reversed_ = mean.loc[("perfect", "label")], mean.loc[("reversed", "label")]
    assert reversed_["ndcg_at_10"] < perfect["ndcg_at_10"]
    assert reversed_["precision_at_5"] == 0.0
    assert reversed_["ic"] == pytest.approx(-1.0)
    assert reversed_["mae"] > 0.4


def test_ranking_table_keeps_per_date_values_and_skill_only_when_given():
    with_skill = ranking_table(world(), ["model"], k_list=(5,))
    assert len(with_skill.per_date) == len(DATES) * 2 * 2  # model and the random order, per target
    assert set(with_skill.per_date["scorer"]) == {"model", RANDOM}
    assert set(with_skill.per_date["target"]) == {"label", "skill"}
    without = ranking_table(world(with_skill=False), ["model"], k_list=(5,))
    assert set(without.per_date["target"]) == {"label"}


def test_the_random_row_is_the_level_a_scorer_must_beat():
    mean = ranking_table(world(), ["perfect", "reversed"], k_list=(5,)).mean
    random = mean.loc[(RANDOM, "skill")]
    assert random["precision_at_5"] == pytest.approx(5 / N_ACCOUNTS)
    assert mean.loc[("reversed", "skill"), "ndcg_at_5"] < random["ndcg_at_5"]
    assert random["ndcg_at_5"] < mean.loc[("perfect", "skill"), "ndcg_at_5"]


def test_share_of_ceiling_divides_by_the_ceiling_and_is_empty_without_one():
    frame = world().assign(ceiling=lambda f: f["perfect"])
    table = ranking_table(frame, ["perfect", "reversed", "ceiling"], k_list=(5,))
    shares = table.share_of_ceiling("ndcg_at_5")
    assert shares["perfect"] == pytest.approx(1.0)
    assert 0 <= shares["reversed"] < 1 and "ceiling" not in shares
    assert ranking_table(world(), ["perfect"], k_list=(5,)).share_of_ceiling("ndcg_at_5").empty


def test_precision_is_missing_when_k_covers_every_account():
    mean = ranking_table(world(), ["model"], k_list=(N_ACCOUNTS,)).mean
    assert mean[f"precision_at_{N_ACCOUNTS}"].isna().all()


def test_ranking_table_names_missing_columns():
    with pytest.raises(DataError, match="ranking_table.*oracle"):
        ranking_table(world(), ["model", "oracle"])


def blocks(frame: pd.DataFrame) -> pd.DataFrame:
    """Scorer `fixed` keeps a00-a09 on top; `flipping` alternates between a00-a09 and a10-a19."""
    block = frame["account_id"].str[1:].astype(int) // 10
    month = frame["as_of_date"].dt.month % 2
    return frame.assign(fixed=-block.astype(float), flipping=(block == month).astype(float))


def test_top_10_overlap_is_one_when_unchanged_and_zero_when_disjoint():
    frame = blocks(world())
    assert top_k_stability(frame, "fixed", k=10).tolist() == [1.0, 1.0, 1.0]
    assert top_k_stability(frame, "flipping", k=10).tolist() == [0.0, 0.0, 0.0]
    assert list(top_k_stability(frame, "fixed").index) == list(DATES[1:])


def test_turnover_is_zero_when_unchanged_and_one_when_all_replaced():
    frame = blocks(world())
    assert recommendation_turnover(frame, "fixed", k=10).tolist() == [0.0, 0.0, 0.0]
    assert recommendation_turnover(frame, "flipping", k=10).tolist() == [1.0, 1.0, 1.0]


# 40 accounts on one date: the top decile of return_12m is the four highest returns (a00-a03).
# a00 and a01 are lucky beginners (short record, top return, skill <= 0); a02 is skilled, a03 a
# veteran (exactly 252 days), a04 an unskilled beginner just below the top decile.
LUCKY = pd.DataFrame(
    {
        "account_id": [f"a{i:02d}" for i in range(40)],
        "as_of_date": pd.Timestamp("2021-06-30"),
        "return_12m": [5.0, 4.0, 3.0, 2.5, 2.0] + [0.01 * i for i in range(35)],
        "track_record_days": [100.0, 200.0, 100.0, 252.0, 100.0] + [400.0] * 35,
        "skill": [-0.5, 0.0, 1.0, -1.0, -1.0] + [0.0] * 35,
    }
).assign(chases_returns=lambda f: f["return_12m"], by_id=lambda f: -np.arange(40.0))


def test_lucky_beginners_are_exactly_the_planted_accounts():
    lucky = lucky_beginners(LUCKY)
    assert LUCKY.loc[lucky, "account_id"].tolist() == ["a00", "a01"]


def test_lucky_beginner_share_counts_them_in_the_top_k():
    assert lucky_beginner_share(LUCKY, "chases_returns", k=5).tolist() == [pytest.approx(2 / 5)]
    assert lucky_beginner_share(LUCKY, "chases_returns", k=2).tolist() == [1.0]
    assert lucky_beginner_share(LUCKY.assign(by_id=-np.arange(40.0)[::-1]), "by_id", k=5).tolist() == [0.0]


def test_lucky_beginner_share_is_none_without_skill():
    assert lucky_beginner_share(LUCKY.drop(columns="skill"), "chases_returns") is None
    assert lucky_beginner_share(LUCKY.assign(skill=np.nan), "chases_returns") is None


def test_following_the_best_forward_returns_beats_following_the_worst():
    frame = world().assign(best=lambda f: f["fwd_return_30d"], worst=lambda f: -f["fwd_return_30d"])
    best, worst = follower_backtest(frame, "best", k=5), follower_backtest(frame, "worst", k=5)
    assert (best.returns > worst.returns).all()
    assert best.total_return > 0 > worst.total_return
    assert best.sharpe > worst.sharpe
    assert best.max_drawdown <= worst.max_drawdown
    assert list(best.returns.index) == list(DATES)


def test_sharpe_is_annualised_monthly_and_drawdown_is_of_the_compounded_path():
    returns = pd.Series([0.1, -0.5, 0.2])
    assert annualised_sharpe(returns) == pytest.approx(returns.mean() / returns.std() * np.sqrt(12))
    assert max_drawdown(returns) == pytest.approx(0.5)
    assert max_drawdown(pd.Series([-0.1, 1.2 / 0.9 - 1])) == pytest.approx(0.1)  # the first fall counts


def test_picks_without_a_forward_return_count_as_the_worst_dropped_or_a_given_value():
    frame = pd.DataFrame(
        {
            "account_id": ["a", "b", "c", "d"],
            "as_of_date": pd.Timestamp("2021-01-31"),
            "score": [4.0, 3.0, 2.0, 1.0],
            "fwd_return_30d": [0.10, np.nan, 0.0, -0.30],
        }
    )
    assert follower_backtest(frame, "score", k=2).returns.tolist() == [pytest.approx((0.10 - 0.30) / 2)]
    assert follower_backtest(frame, "score", k=2, missing_return="drop").returns.tolist() == [0.10]
    assert follower_backtest(frame, "score", k=2, missing_return=0.0).returns.tolist() == [0.05]
    assert follower_backtest(frame, "score", k=2).n_missing.tolist() == [1.0]


def test_dates_without_any_forward_return_are_skipped():
    frame = world()
    frame.loc[frame["as_of_date"] == DATES[-1], "fwd_return_30d"] = np.nan
    assert list(follower_backtest(frame, "model").returns.index) == list(DATES[:-1])


SCORERS = ["model", "perfect", "reversed"]


def test_report_is_self_contained_with_every_table_and_figure(tmp_path):
    evaluation = evaluate_scorers(world(), SCORERS, k_list=(5, 10), lucky_k=5, follower_k=5)
    path = write_evaluation_report(evaluation, tmp_path / "reports")
    page = path.read_text(encoding="utf-8")
    assert path.parent == tmp_path / "reports"
    for header in ["NDCG@5", "NDCG@10", "Precision@5", "Precision@10", "MAE (rank)", "Spearman IC"]:
        assert f"<th>{header}</th>" in page
    for heading in [
        "Against latent skill",
        "NDCG@10 per fold",
        "top-10 overlap",
        "top-100 turnover",
        "Lucky beginners in the top 5",
        "Follower backtest",
        "Sharpe (annualised)",
        "max drawdown",
    ]:
        assert heading in page
    assert page.count('src="data:image/png;base64,') >= 4  # NDCG vs label, vs skill, stability, equity
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page and "<link" not in page
    assert NO_GROUND_TRUTH not in page


def test_report_without_ground_truth_says_so_and_has_no_skill_metrics(tmp_path):
    evaluation = evaluate_scorers(world(with_skill=False), SCORERS, k_list=(5, 10))
    page = write_evaluation_report(evaluation, tmp_path).read_text(encoding="utf-8")
    assert NO_GROUND_TRUTH in page
    assert "Against latent skill" not in page
    summary = evaluation_summary(evaluation)
    assert not [name for name in summary if "skill" in name or "lucky" in name]
    assert "model_vs_label_ndcg_at_10" in summary


def test_summary_has_flat_finite_metrics_for_mlflow():
    summary = evaluation_summary(evaluate_scorers(world(), SCORERS, k_list=(5, 10), follower_k=5))
    for name in [
        "model_vs_skill_ndcg_at_10",
        "model_vs_label_precision_at_5",
        "model_vs_skill_mae",
        "model_vs_label_ic",
        "model_top_10_overlap",
        "model_top_100_turnover",
        "model_lucky_beginner_share",
        "lucky_beginner_base_rate",
        "model_follower_sharpe",
        "model_follower_max_drawdown",
    ]:
        assert name in summary
    assert summary["perfect_vs_label_ndcg_at_10"] == pytest.approx(1.0)
    assert all(isinstance(v, float) and np.isfinite(v) for v in summary.values())


def test_the_portfolio_turnover_guard_sees_a_ranking_of_day_traders():
    # Scorer `active` ranks the heaviest traders first; `model` is blind to trading.
    frame = world().assign(turnover_12m=lambda f: f["account_id"].str[1:].astype(float))
    frame = frame.assign(active=frame["turnover_12m"])
    assert portfolio_turnover(world(), "model", k=5) is None  # no turnover_12m: not measured
    ratio_active = portfolio_turnover(frame, "active", k=5)
    ratio_model = portfolio_turnover(frame, "model", k=5)
    assert (ratio_active > 1.5).all()  # the top 5 (27..29 +) trade about twice the median account (14.5)
    assert ratio_model.mean() < ratio_active.mean()


def test_the_follower_pays_for_switching_investors_and_copying_their_trades():
    frame = blocks(world()).assign(turnover_12m=12.0)  # each copied book trades once a month
    fixed, flipping = (follower_backtest(frame, name, k=10, cost=0.01) for name in ("fixed", "flipping"))
    # The fixed top 10 is bought once (2 x 100% switched) and then only copies its investors' trades.
    assert fixed.costs.tolist() == pytest.approx([0.01 * (2 + 1), 0.01, 0.01, 0.01])
    assert flipping.costs.tolist() == pytest.approx([0.03] * 4)  # a new top 10 every month
    assert flipping.net_total_return < flipping.total_return
    assert follower_backtest(world(), "model").net_returns is None  # no turnover: costs unknown
