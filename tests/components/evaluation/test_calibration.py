"""Calibration of the probability of skill: the reliability table, ECE, Brier, the walk-forward's folds."""

import numpy as np
import pandas as pd
import pytest

from components.evaluation.calibration import (
    calibration,
    out_of_sample_probabilities,
    walk_forward_calibration,
)
from components.ranking.walk_forward import Fold

DATES = pd.to_datetime(["2021-01-29", "2021-02-26", "2021-03-31"])


def test_probabilities_drawn_as_the_truth_are_calibrated():
    rng = np.random.default_rng(0)
    probability = rng.uniform(0, 1, 20_000)
    result = calibration(rng.uniform(0, 1, 20_000) < probability, probability)
    assert result.ece < 0.02
    assert result.brier == pytest.approx(1 / 6, abs=0.01)  # E[p(1 − p)] for uniform p
    assert result.table["accounts"].sum() == result.accounts == 20_000


def test_overconfidence_shows_in_the_ece():
    skilled = np.array([True, False] * 50)
    assert calibration(skilled, np.where(skilled, 1.0, 0.9)).ece == pytest.approx(0.45)


def test_accounts_without_a_probability_are_left_out():
    result = calibration([True, False, True], [1.0, 0.0, np.nan])
    assert (result.accounts, result.ece, result.brier) == (2, 0.0, 0.0)


def test_calibration_needs_a_probability():
    with pytest.raises(ValueError, match="at least one account"):
        calibration([True], [np.nan])


def test_calibration_metrics_are_named_for_mlflow():
    assert set(calibration([True, False], [0.7, 0.2]).metrics()) == {
        "calibration_ece",
        "calibration_brier",
        "calibration_accounts",
    }


def panel(n: int = 400, seed: int = 1) -> pd.DataFrame:
    """Accounts whose t-stats follow their latent skill, at three as-of dates."""
    rng = np.random.default_rng(seed)
    skill = np.where(rng.random(n) < 0.15, 0.05, 0.0)
    frames = []
    for step, as_of in enumerate(DATES):
        days = np.full(n, 504.0 + 21 * step)
        frames.append(
            pd.DataFrame(
                {
                    "account_id": [f"acc-{i}" for i in range(n)],
                    "as_of_date": as_of,
                    "track_record_days": np.where(np.arange(n) < 10, 20.0, days),  # ten are new
                    "universe_alpha_tstat_inception": rng.normal(np.where(skill > 0, 4.0, 0.0), 1.0),
                    "skill": skill,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_out_of_sample_probabilities_score_each_test_date_with_its_folds_prior():
    frame = panel()
    folds = [Fold(tuple(DATES[:1]), DATES[1]), Fold(tuple(DATES[:2]), DATES[2])]
    scored = out_of_sample_probabilities(frame, folds, min_track_record_days=63)
    assert scored.groupby("as_of_date").size().tolist() == [390, 390]  # established accounts only
    assert scored["probability_of_skill"].between(0, 1).all()
    high = scored["probability_of_skill"] > 0.5
    assert scored.loc[high, "skilled"].mean() > 0.8


def test_walk_forward_calibration_needs_latent_skill():
    frame = panel().drop(columns="skill")
    assert (
        walk_forward_calibration(frame, [Fold(tuple(DATES[:1]), DATES[1])], min_track_record_days=63) is None
    )


def test_walk_forward_calibration_of_a_separable_world_is_good():
    folds = [Fold(tuple(DATES[:1]), DATES[1]), Fold(tuple(DATES[:2]), DATES[2])]
    result = walk_forward_calibration(panel(), folds, min_track_record_days=63)
    assert result.ece < 0.1 and result.brier < 0.1


def test_the_report_shows_the_calibration_section(tmp_path):
    from components.evaluation.evaluate import evaluate_scorers
    from components.evaluation.report import write_evaluation_report
    from tests.components.evaluation.test_evaluate import SCORERS, world

    evaluation = evaluate_scorers(world(), SCORERS, k_list=(5, 10), lucky_k=5, follower_k=5)
    result = calibration([True, False, False, True], [0.9, 0.1, 0.1, 0.7])
    page = write_evaluation_report(evaluation, tmp_path, calibration=result).read_text(encoding="utf-8")
    assert "Calibration of the probability of skill" in page
    assert f"Expected calibration error {result.ece:.3f}" in page
    plain = write_evaluation_report(evaluation, tmp_path / "plain").read_text(encoding="utf-8")
    assert "Calibration of the probability of skill" not in plain
