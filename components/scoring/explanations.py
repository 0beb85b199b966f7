"""Why an investor is where it is in the feed: short sentences from the model's feature contributions.

The predictor returns, per investor, the features that moved the score most (LightGBM's SHAP values,
``pred_contrib=True``) with their signed contributions; `reasons` turns each into a sentence such as
"a 12-month Sharpe of 1.8 lifted the score". Features without a template (the feature list grows) get
a sentence built from their name, so every contribution can be shown.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

TRADING_DAYS_PER_YEAR = 252
# Feature-name endings that name a window, e.g. sharpe_12m -> "12-month sharpe".
_WINDOW = re.compile(r"^(?P<stem>.+)_(?P<length>\d+)(?P<unit>[dmy])$")
_UNITS = {"d": "day", "m": "month", "y": "year"}


def _plural(count: float, noun: str) -> str:
    return f"{count:.0f} {noun}{'' if round(count) == 1 else 's'}"


def _duration(days: float) -> str:
    return f"{days / TRADING_DAYS_PER_YEAR:.1f}-year" if days >= TRADING_DAYS_PER_YEAR else f"{days:.0f}-day"


def _age(calendar_days: float) -> str:
    return f"{calendar_days / 365.25:.1f} years" if calendar_days >= 365 else _plural(calendar_days, "day")


def _article(noun_phrase: str) -> str:
    return f"{'an' if noun_phrase[:1].lower() in 'aeiou' else 'a'} {noun_phrase}"


def _holdings(hhi: float) -> str:
    """1 / HHI is the effective number of equal positions."""
    positions = 1 / hhi if hhi > 0 else math.inf
    if positions < 1.5:
        return "concentrated in 1 stock"
    if hhi > 0.5 - 1e-9 or positions < 2.5:
        return f"concentrated in about {positions:.0f} stocks"
    return f"spread over about {positions:.0f} stocks" if math.isfinite(positions) else "no positions"


@dataclass(frozen=True)
class Template:
    """How to name a feature (when its value is missing) and how to say its value."""

    label: str
    phrase: Callable[[float], str]


TEMPLATES: dict[str, Template] = {
    "sharpe_12m": Template("12-month Sharpe ratio", lambda v: f"a 12-month Sharpe ratio of {v:.1f}"),
    "sortino_12m": Template("12-month Sortino ratio", lambda v: f"a 12-month Sortino ratio of {v:.1f}"),
    "skew_12m": Template("12-month return skew", lambda v: f"a 12-month return skew of {v:.1f}"),
    "kurtosis_12m": Template(
        "12-month tail risk", lambda v: f"{'fat' if v > 4 else 'thin'} tails (kurtosis {v:.1f})"
    ),
    "volatility_12m": Template("12-month volatility", lambda v: f"a 12-month volatility of {v:.0%}"),
    "max_drawdown_12m": Template("12-month drawdown", lambda v: f"a 12-month max drawdown of {v:.0%}"),
    "return_12m": Template("12-month return", lambda v: f"a 12-month return of {v:+.0%}"),
    "roi_since_inception": Template(
        "return since inception", lambda v: f"a return of {v:+.0%} since inception"
    ),
    "hhi": Template("concentration", _holdings),
    "n_tickers": Template("number of holdings", lambda v: f"holding {_plural(v, 'symbol')}"),
    "trade_count_12m": Template("trade count", lambda v: f"{_plural(v, 'trade')} in 12 months"),
    "tenure_days": Template("account age", lambda v: f"an account open for {_age(v)}"),
    "track_record_days": Template("track record", lambda v: f"a {_duration(v)} track record"),
    "market_vol_21d": Template("market volatility", lambda v: f"market volatility of {v:.0%}"),
    # The ranker's evidence inputs: t-statistics, said as how far from luck the record is.
    "sharpe_tstat_inception": Template(
        "evidence since inception", lambda v: f"lifetime returns {v:.1f} standard errors from zero"
    ),
    "alpha_tstat_inception": Template(
        "alpha over the S&P 500 since inception",
        lambda v: f"a lifetime S&P 500 alpha {v:.1f} standard errors from zero",
    ),
    "universe_alpha_tstat_inception": Template(
        "stock-picking edge since inception",
        lambda v: f"a lifetime stock-picking edge {v:.1f} standard errors from zero",
    ),
    "alpha_tstat_12m": Template(
        "12-month alpha evidence", lambda v: f"a 12-month alpha {v:.1f} standard errors from zero"
    ),
}


def feature_label(name: str) -> str:
    """A readable name for a feature without a template, e.g. ``alpha_tstat_12m`` -> "12-month alpha tstat".

    Example:
        >>> feature_label("alpha_tstat_12m"), feature_label("excess_return_5d"), feature_label("beta_spx")
        ('12-month alpha tstat', '5-day excess return', 'beta spx')
    """
    match = _WINDOW.match(name)
    if match is None:
        return name.replace("_", " ")
    return f"{match['length']}-{_UNITS[match['unit']]} {match['stem'].replace('_', ' ')}"


def phrase(name: str, value: float | None) -> str:
    """What the investor's value of feature `name` is, as a noun phrase (a generic one if no template)."""
    template = TEMPLATES.get(name)
    label = template.label if template else feature_label(name)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return f"an unknown {label}"
    if template is None:
        return f"{_article(label)} of {value:.3g}"
    return template.phrase(float(value))


def reasons(
    contributions: Mapping[str, float], features: Mapping[str, float | None], *, limit: int = 3
) -> list[str]:
    """One sentence per contribution, largest first: positive ones lifted the score, negative ones lowered it.

    Args:
        contributions: Feature name -> signed contribution to the raw score (zeros are skipped).
        features: The investor's feature values by name (a missing name reads as unknown).
        limit: Most sentences to return.

    Example:
        >>> reasons({"sharpe_12m": 0.04, "hhi": -0.03}, {"sharpe_12m": 1.8, "hhi": 0.95})
        ['a 12-month Sharpe ratio of 1.8 lifted the score', 'concentrated in 1 stock lowered the score']
    """
    ranked = sorted(
        ((name, c) for name, c in contributions.items() if c != 0 and not math.isnan(c)),
        key=lambda item: (-abs(item[1]), item[0]),
    )
    return [
        f"{phrase(name, features.get(name))} {'lifted' if c > 0 else 'lowered'} the score"
        for name, c in ranked[:limit]
    ]


def probability_reason(probability: float, no_skill_share: float | None = None) -> str | None:
    """``"probability of skill 87%"``, or None when it is unknown (no t-stat of the edge yet).

    The probability is the posterior of the same evidence the "stock-picking edge" reason quotes, so
    a long record far from zero reads as likely skill. What can still keep it low is the platform: where
    nearly every account shows no edge (`no_skill_share`, the model's π0), even a strong-looking record
    is most likely the luckiest of many, and the sentence says so.

    Example:
        >>> probability_reason(0.874)
        'probability of skill 87%'
        >>> probability_reason(0.004, no_skill_share=0.998)
        'probability of skill 0% (on this platform an estimated 100% of accounts have no edge)'
    """
    if probability is None or math.isnan(probability):
        return None
    text = f"probability of skill {probability:.0%}"
    if no_skill_share is not None and probability < 0.5:
        text += f" (on this platform an estimated {no_skill_share:.0%} of accounts have no edge)"
    return text
