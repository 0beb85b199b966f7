"""Evidently drift of a window against the training reference (monitoring.drift)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from components.errors import DataError
from monitoring.drift import VALUE_DRIFT, WindowDrift, decile_psi, drift_report, read_drift

FEATURES = ["sharpe_12m", "sortino_12m", "volatility_12m", "max_drawdown_12m", "hhi", "n_tickers"]
ROWS = 2_000


def frame(seed: int, shift: dict[str, float] | None = None, rows: int = ROWS) -> pd.DataFrame:
    """Standard-normal features and score (plus an id column the report must ignore), some shifted."""
    rng = np.random.default_rng(seed)
    features = pd.DataFrame(rng.normal(size=(rows, len(FEATURES) + 1)), columns=[*FEATURES, "score"])
    for column, delta in (shift or {}).items():
        features[column] += delta
    return features.assign(account_id=[f"a{i}" for i in range(rows)])


def value_drift_test(column: str, status: str, metric_id: str) -> dict:
    params = {"type": VALUE_DRIFT, "column": column, "method": "K-S p_value", "threshold": 0.05}
    return {"status": status, "metric_config": {"metric_id": metric_id, "params": params}}


def test_identical_distributions_do_not_drift(tmp_path):
    drift = drift_report(frame(seed=1), frame(seed=2), FEATURES, tmp_path)
    assert drift.drifted is False
    assert drift.drifted_columns == []
    assert drift.drifted_share == 0.0
    assert drift.reasons == ["0 of 6 features drifted (0% < 30%)"]


def test_shifted_features_drift_and_are_named_with_their_scores(tmp_path):
    shifted = {"sharpe_12m": 1.0, "volatility_12m": -1.0, "hhi": 2.0}
    drift = drift_report(frame(seed=1), frame(seed=2, shift=shifted), FEATURES, tmp_path)
    assert drift.drifted is True
    assert drift.drifted_columns == ["sharpe_12m", "volatility_12m", "hhi"]
    assert drift.drifted_share == pytest.approx(0.5)
    assert drift.reasons[0] == "3 of 6 features drifted (50% >= 30%): sharpe_12m, volatility_12m, hhi"
    assert [reason.split(":")[0] for reason in drift.reasons[1:]] == ["sharpe_12m", "volatility_12m", "hhi"]
    assert set(drift.scores) == set(FEATURES)


def test_drift_below_the_share_names_the_column_without_drifting_the_window(tmp_path):
    drift = drift_report(frame(seed=1), frame(seed=2, shift={"hhi": 2.0}), FEATURES, tmp_path)
    assert drift.drifted is False
    assert drift.drifted_columns == ["hhi"]
    assert drift.reasons[0] == "1 of 6 features drifted (17% < 30%): hhi"


def test_the_share_threshold_decides_when_the_window_drifted(tmp_path):
    drift = drift_report(frame(seed=1), frame(seed=2, shift={"hhi": 2.0}), FEATURES, tmp_path, 0.1)
    assert drift.drifted is True
    assert drift.reasons[0] == "1 of 6 features drifted (17% >= 10%): hhi"


def test_the_wasserstein_method_scores_a_shift_by_its_size_in_reference_deviations(tmp_path):
    drift = drift_report(
        frame(seed=1),
        frame(seed=2, shift={"hhi": 0.5}),
        FEATURES,
        tmp_path,
        method="wasserstein",
        threshold=0.1,
    )
    assert drift.drifted_columns == ["hhi"]
    assert drift.scores["hhi"] == pytest.approx(0.5, abs=0.06)  # a mean shift of half a deviation
    assert all(score < 0.1 for name, score in drift.scores.items() if name != "hhi")


def test_a_shifted_score_drifts_the_window_by_its_psi_on_the_training_deciles(tmp_path):
    drift = drift_report(
        frame(seed=1), frame(seed=2, shift={"score": 1.0}), FEATURES, tmp_path, score_column="score"
    )
    assert drift.drifted_columns == []  # no feature moved
    assert drift.score_drifted is True and drift.drifted is True
    assert drift.score_psi == pytest.approx(decile_psi(frame(seed=1)["score"], frame(seed=2)["score"] + 1.0))
    assert drift.reasons[-1].startswith("score drift: score: psi_training_deciles = ")


def test_an_unshifted_score_does_not_drift(tmp_path):
    drift = drift_report(frame(seed=1), frame(seed=2), FEATURES, tmp_path, score_column="score")
    assert drift.score_drifted is False and drift.score_psi < 0.05
    assert "score" not in drift.drifted_columns


def test_decile_psi_uses_the_reference_deciles_as_fixed_bins():
    reference = np.arange(1000.0)
    assert decile_psi(reference, reference[:500] * 2) == pytest.approx(0.0, abs=1e-12)  # same deciles
    # All of current in the reference's top decile: 0.9 of the mass moved out of nine bins.
    psi = decile_psi(reference, np.full(100, 999.0))
    assert psi == pytest.approx(9 * (1e-4 - 0.1) * np.log(1e-4 / 0.1) + (1 - 0.1) * np.log(1 / 0.1))


def test_decile_psi_merges_edges_of_a_point_mass():
    reference = np.r_[np.zeros(600), np.arange(1.0, 401.0)]  # 60% at the neutral score
    assert decile_psi(reference, reference) == pytest.approx(0.0)


def test_report_is_written_as_html_and_json(tmp_path):
    out_dir = tmp_path / "reports" / "drift"
    drift = drift_report(frame(seed=1), frame(seed=2, shift={"hhi": 2.0}), FEATURES, out_dir)
    html = (out_dir / "drift_report.html").read_text()
    assert html.lstrip().startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "hhi" in html
    result = json.loads((out_dir / "drift_report.json").read_text())
    assert read_drift(result, 0.3) == drift  # the verdict is the one the JSON file records
    monitored = [m["config"]["column"] for m in result["metrics"] if m["config"]["type"] == VALUE_DRIFT]
    assert monitored == FEATURES  # the id column is not part of the report


def test_without_html_only_the_json_is_written(tmp_path):
    drift_report(frame(seed=1, rows=300), frame(seed=2, rows=300), FEATURES, tmp_path, html=False)
    assert (tmp_path / "drift_report.json").exists() and not (tmp_path / "drift_report.html").exists()


def test_window_drift_serialises_to_a_json_dict(tmp_path):
    drift = drift_report(frame(seed=1), frame(seed=2, shift={"hhi": 2.0}), FEATURES, tmp_path)
    assert WindowDrift(**json.loads(json.dumps(drift.to_dict()))) == drift


def test_missing_feature_column_in_current_is_named(tmp_path):
    current = frame(seed=2).drop(columns=["sortino_12m"])
    with pytest.raises(DataError, match=r"current data is missing feature column\(s\) sortino_12m"):
        drift_report(frame(seed=1), current, FEATURES, tmp_path)


def test_missing_score_column_is_named(tmp_path):
    with pytest.raises(DataError, match=r"reference data is missing feature column\(s\) score"):
        drift_report(
            frame(seed=1).drop(columns="score"), frame(seed=2), FEATURES, tmp_path, score_column="score"
        )


def test_feature_without_values_is_named(tmp_path):
    current = frame(seed=2).assign(hhi=np.nan)
    with pytest.raises(DataError, match=r"feature column\(s\) hhi have no values in the current data"):
        drift_report(frame(seed=1), current, FEATURES, tmp_path)


def test_empty_reference_is_rejected(tmp_path):
    with pytest.raises(DataError, match="reference data has no rows"):
        drift_report(frame(seed=1).iloc[:0], frame(seed=2), FEATURES, tmp_path)


def test_no_feature_columns_is_rejected(tmp_path):
    with pytest.raises(DataError, match="no feature columns"):
        drift_report(frame(seed=1), frame(seed=2), [], tmp_path)


@pytest.mark.parametrize("threshold", [0.0, 1.5])
def test_threshold_outside_zero_to_one_is_rejected(tmp_path, threshold):
    with pytest.raises(DataError, match="must be in"):
        drift_report(frame(seed=1), frame(seed=2), FEATURES, tmp_path, threshold)


def test_read_drift_at_exactly_the_threshold_drifts():
    tests = [value_drift_test("a", "FAIL", "m1"), value_drift_test("b", "SUCCESS", "m2")]
    result = {"metrics": [{"id": "m1", "value": 0.0004}, {"id": "m2", "value": 0.6}], "tests": tests}
    assert read_drift(result, 0.5) == WindowDrift(
        drifted=True,
        drifted_share=0.5,
        drifted_columns=["a"],
        scores={"a": 0.0004, "b": 0.6},
        reasons=["1 of 2 features drifted (50% >= 50%): a", "a: K-S p_value = 0.0004 (threshold 0.05)"],
    )


def test_read_drift_rejects_a_result_without_drift_tests():
    with pytest.raises(ValueError, match="include_tests=True"):
        read_drift({"metrics": [], "tests": []}, 0.3)
