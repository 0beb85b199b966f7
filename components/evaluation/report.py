"""The evaluation report: one self-contained HTML file, and the flat metrics MLflow logs.

Figures are drawn with matplotlib's object API (no pyplot, no global state) and embedded as base64
PNG, so the file opens offline and links to nothing outside itself.
"""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from components.evaluation.calibration import Calibration
from components.evaluation.evaluate import SKILL, Evaluation, backtest_table
from feature_repo.feature_schema import EVENT_TIMESTAMP

REPORT_FILE = "evaluation_report.html"
NO_GROUND_TRUTH = (
    "No ground truth (latent skill) was given: the metrics against skill and the lucky-beginner share "
    "are not reported, only those against the forward label."
)


def target_title(target: str, evaluation: Evaluation) -> str:
    """The heading of a target's tables: the forward label (named) or latent skill."""
    return (
        f"Against the forward label ({evaluation.label}; NDCG gain: its percentile rank)"
        if target == "label"
        else f"Against latent skill ({SKILL}; NDCG gain: max({SKILL}, 0); the ceiling learns it from every "
        "feature, cross-fitted by account)"
    )


BACKTEST_LABELS = {
    "sharpe": "Sharpe (annualised)",
    "max_drawdown": "max drawdown",
    "total_return": "total return",
    "net_sharpe": "Sharpe net of costs",
    "net_total_return": "total return net of costs",
    "mean_period_return": "mean monthly return",
    "periods": "months",
}
STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { padding: 0.25em 0.8em; text-align: right; border-bottom: 1px solid #ddd; }
th:first-child, td:first-child { text-align: left; }
img { max-width: 100%; }
.note { background: #fff4d6; padding: 0.6em 1em; border-left: 4px solid #e0a800; }
"""


# ---------------------------------------------------------------------------------------------------
# HTML pieces


def metric_labels(k_list: tuple[int, ...]) -> dict[str, str]:
    """Column name -> table header for the ranking metrics."""
    labels = {f"ndcg_at_{k}": f"NDCG@{k}" for k in k_list}
    labels |= {f"precision_at_{k}": f"Precision@{k}" for k in k_list}
    return labels | {"mae": "MAE (rank)", "ic": "Spearman IC", "n": "accounts per date"}


def table_html(frame: pd.DataFrame) -> str:
    """A DataFrame as an HTML table, its index as the first column, floats with three decimals."""
    return frame.reset_index().to_html(index=False, float_format="{:.3f}".format, na_rep="n/a", border=0)


def figure_html(figure: Figure, alt: str) -> str:
    """A matplotlib figure as an inline base64 PNG image."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{encoded}">'


def paragraph(text: str, css_class: str | None = None) -> str:
    """An escaped HTML paragraph."""
    attribute = f' class="{css_class}"' if css_class else ""
    return f"<p{attribute}>{html.escape(text)}</p>"


def section(title: str, *parts: str) -> str:
    """A titled section of the report."""
    return f"<section><h2>{html.escape(title)}</h2>{''.join(parts)}</section>"


def line_figure(series: dict[str, pd.Series], title: str, ylabel: str, xlabel: str = "as-of date") -> Figure:
    """One line per named series over the as-of dates."""
    figure = Figure(figsize=(9, 3.6))
    axes = figure.subplots()
    for name, values in series.items():
        axes.plot(values.index, values.to_numpy(dtype=float), marker="o", markersize=3, label=name)
    axes.set(title=title, ylabel=ylabel, xlabel=xlabel)
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small", ncol=3)
    figure.autofmt_xdate()
    return figure


# ---------------------------------------------------------------------------------------------------
# Sections


def overview_section(evaluation: Evaluation) -> str:
    """What was evaluated, over which dates, and whether ground truth was given."""
    dates = pd.to_datetime(evaluation.ranking.per_date[EVENT_TIMESTAMP])
    text = (
        f"{dates.nunique()} walk-forward test dates from {dates.min().date()} to {dates.max().date()}; "
        f"scorers: {', '.join(evaluation.scorers)}. Metrics are computed within each as-of date and "
        "averaged over the dates; MAE is the mean absolute difference of percentile ranks (0 perfect, "
        "about 1/3 random)."
    )
    note = "" if evaluation.has_skill else paragraph(NO_GROUND_TRUTH, "note")
    return section("Overview", paragraph(text), note)


def ranking_section(evaluation: Evaluation) -> str:
    """The evaluation table: every scorer, each target, every ranking metric."""
    labels = metric_labels(evaluation.ranking.k_list)
    mean = evaluation.ranking.mean.assign(n=lambda m: m["n"].round().astype(int))
    tables = [
        f"<h3>{html.escape(target_title(target, evaluation))}</h3>"
        + table_html(mean.xs(target, level="target")[list(labels)].rename(columns=labels))
        for target in mean.index.get_level_values("target").unique()
    ]
    return section("Ranking quality", *tables)


def ndcg_section(evaluation: Evaluation) -> str:
    """NDCG at the largest cut-off per walk-forward fold (test date), one plot per target."""
    k = max(evaluation.ranking.k_list)
    per_date = evaluation.ranking.per_date
    figures = []
    for target, rows in per_date.groupby("target", sort=False):
        curves = rows.pivot(index=EVENT_TIMESTAMP, columns="scorer", values=f"ndcg_at_{k}")
        series = {scorer: curves[scorer] for scorer in evaluation.scorers}
        title = f"NDCG@{k} per fold, {target_title(target, evaluation).lower()}"
        figures.append(figure_html(line_figure(series, title, f"NDCG@{k}"), title))
    return section(f"NDCG@{k} per fold", *figures)


def stability_section(evaluation: Evaluation) -> str:
    """Month-over-month top-k overlap and recommendation turnover: means and their paths."""
    overlap = f"top-{evaluation.stability_k} overlap (month over month)"
    turnover = f"top-{evaluation.turnover_k} turnover (share replaced)"
    means = pd.DataFrame({overlap: evaluation.stability.mean(), turnover: evaluation.turnover.mean()})
    series = {scorer: evaluation.stability[scorer] for scorer in evaluation.scorers}
    figure = line_figure(series, f"Top-{evaluation.stability_k} overlap with the previous month", "overlap")
    return section(
        "Stability of the recommendations",
        table_html(means.rename_axis("scorer")),
        figure_html(figure, overlap),
    )


def lucky_section(evaluation: Evaluation) -> str:
    """Share of each scorer's top-k that are lucky beginners, beside the base rate of all accounts."""
    title = f"Lucky beginners in the top {evaluation.lucky_k}"
    if evaluation.lucky is None:
        return section(title, paragraph(NO_GROUND_TRUTH, "note"))
    definition = (
        "A lucky beginner has fewer than 252 daily returns, a trailing 12-month return in the top decile "
        "of its date and latent skill <= 0. 'all accounts' is the share among every account: a random pick."
    )
    means = evaluation.lucky.mean().rename("lucky-beginner share").to_frame().rename_axis("scorer")
    return section(title, paragraph(definition), table_html(means))


def backtest_section(evaluation: Evaluation) -> str:
    """Equity curves of copying each scorer's top-k, and their Sharpe ratio and drawdown."""
    k = evaluation.follower_k
    curves = {name: test.equity for name, test in evaluation.backtests.items()}
    title = f"Equal-weight copy of the top {k}, rebalanced monthly"
    figure = line_figure(curves, title, "wealth", "as-of date of the copy (wealth after holding it)")
    text = (
        f"At each as-of date a follower holds the scorer's top {k} with equal weights for the label "
        "horizon; Sharpe is annualised with sqrt(12); drawdown is of the compounded path. Net of costs: "
        "10 bps per unit of notional the follower trades, on switching investors and on copying their "
        "own trades (their turnover_12m / 12 a month)."
    )
    return section(
        "Follower backtest",
        paragraph(text),
        figure_html(figure, "follower equity curves"),
        table_html(backtest_table(evaluation.backtests).rename(columns=BACKTEST_LABELS)),
    )


def calibration_section(calibration: Calibration | None) -> str:
    """The probability of skill against latent skill: the reliability table, ECE and Brier score (no
    section without latent skill, which the overview already says)."""
    if calibration is None:
        return ""
    text = (
        f"Out of sample: each walk-forward test date's {calibration.accounts:,} established account-dates, "
        "scored with the prior of edges fitted on the latest training date of their fold, against "
        f"{SKILL} > 0. Expected calibration error {calibration.ece:.3f}, Brier score "
        f"{calibration.brier:.3f}. A calibrated probability has each bin's share of skilled accounts "
        "close to its mean probability."
    )
    table = table_html(calibration.table.set_index("bin"))
    return section("Calibration of the probability of skill", paragraph(text), table)


def report_html(evaluation: Evaluation, title: str, calibration: Calibration | None = None) -> str:
    """The whole report as one HTML document."""
    sections = [
        overview_section(evaluation),
        ranking_section(evaluation),
        ndcg_section(evaluation),
        stability_section(evaluation),
        lucky_section(evaluation),
        backtest_section(evaluation),
        calibration_section(calibration),
    ]
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>{''.join(sections)}</body></html>"
    )


def write_evaluation_report(
    evaluation: Evaluation,
    out_dir: Path | str,
    *,
    title: str = "skillrank walk-forward evaluation",
    calibration: Calibration | None = None,
) -> Path:
    """Write the self-contained HTML report into `out_dir` (created if needed) and return its path."""
    path = Path(out_dir) / REPORT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report_html(evaluation, title, calibration), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------------
# Flat metrics for MLflow


def evaluation_summary(evaluation: Evaluation) -> dict[str, float]:
    """Flat metric names for MLflow, finite values only (skill metrics are absent without skill).

    Names: ``<scorer>_vs_<label|skill>_<ndcg_at_k|precision_at_k|mae|ic>``,
    ``<scorer>_top_<k>_overlap``, ``<scorer>_top_<k>_turnover``, ``<scorer>_lucky_beginner_share``,
    ``lucky_beginner_base_rate``, ``<scorer>_follower_<sharpe|max_drawdown|total_return>`` and their
    ``net_`` versions (after costs), ``<scorer>_top_<k>_portfolio_turnover_ratio``, and with a ceiling
    ``<scorer>_share_of_ceiling_vs_skill_ndcg_at_<k>``. The ``random`` scorer is a random order's
    expected NDCG@k and Precision@k.
    """
    metrics: dict[str, float] = {}
    for (scorer, target), row in evaluation.ranking.mean.drop(columns="n").iterrows():
        metrics |= {f"{scorer}_vs_{target}_{name}": value for name, value in row.items()}
    k = max(evaluation.ranking.k_list)
    shares = evaluation.ranking.share_of_ceiling(f"ndcg_at_{k}")
    metrics |= {f"{scorer}_share_of_ceiling_vs_skill_ndcg_at_{k}": share for scorer, share in shares.items()}
    for scorer in evaluation.scorers:
        metrics[f"{scorer}_top_{evaluation.stability_k}_overlap"] = evaluation.stability[scorer].mean()
        metrics[f"{scorer}_top_{evaluation.turnover_k}_turnover"] = evaluation.turnover[scorer].mean()
        test = evaluation.backtests[scorer]
        metrics |= {
            f"{scorer}_follower_sharpe": test.sharpe,
            f"{scorer}_follower_max_drawdown": test.max_drawdown,
            f"{scorer}_follower_total_return": test.total_return,
            f"{scorer}_follower_net_sharpe": test.net_sharpe,
            f"{scorer}_follower_net_total_return": test.net_total_return,
        }
        if evaluation.portfolio_turnover is not None:
            ratio = evaluation.portfolio_turnover[scorer].mean()
            metrics[f"{scorer}_top_{evaluation.turnover_k}_portfolio_turnover_ratio"] = ratio
    if evaluation.lucky is not None:
        lucky = evaluation.lucky.mean()
        metrics |= {f"{scorer}_lucky_beginner_share": lucky[scorer] for scorer in evaluation.scorers}
        metrics["lucky_beginner_base_rate"] = lucky["all accounts"]
    return {name: float(value) for name, value in metrics.items() if math.isfinite(float(value))}
