"""Evidently drift report and the retrain decision (monitoring.drift)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from monitoring.drift import VALUE_DRIFT, DriftDecision, drift_report, retrain_decision

FEATURES = ["sharpe_12m", "sortino_12m", "volatility_12m", "max_drawdown_12m", "hhi", "n_tickers"]
ROWS = 2_000


def frame(seed: int, shift: dict[str, float] | None = None) -> pd.DataFrame:
    """Standard-normal features (plus an id column the report must ignore), some shifted in mean."""
    rng = np.random.default_rng(seed)
    features = pd.DataFrame(rng.normal(size=(ROWS, len(FEATURES))), columns=FEATURES)
    for column, delta in (shift or {}).items():
        features[column] += delta
    return features.assign(account_id=[f"a{i}" for i in range(ROWS)])


def value_drift_test(column: str, status: str, metric_id: str) -> dict:
    params = {"type": VALUE_DRIFT, "column": column, "method": "K-S p_value", "threshold": 0.05}
    return {"status": status, "metric_config": {"metric_id": metric_id, "params": params}}


def test_identical_distributions_do_not_call_for_retraining(tmp_path):
    decision = drift_report(frame(seed=1), frame(seed=2), FEATURES, tmp_path)
    assert decision.retrain is False
    assert decision.drifted_columns == []
    assert decision.drifted_share == 0.0
    assert decision.reasons == ["0 of 6 features drifted (0% < 30%)"]


def test_shifted_features_call_for_retraining_and_are_named(tmp_path):
    shifted = {"sharpe_12m": 1.0, "volatility_12m": -1.0, "hhi": 2.0}
    decision = drift_report(frame(seed=1), frame(seed=2, shift=shifted), FEATURES, tmp_path)
    assert decision.retrain is True
    assert decision.drifted_columns == ["sharpe_12m", "volatility_12m", "hhi"]
    assert decision.drifted_share == pytest.approx(0.5)
    assert decision.reasons[0] == "3 of 6 features drifted (50% >= 30%): sharpe_12m, volatility_12m, hhi"
    assert [reason.split(":")[0] for reason in decision.reasons[1:]] == [
        "sharpe_12m",
        "volatility_12m",
        "hhi",
    ]


def test_drift_below_the_threshold_names_the_column_without_retraining(tmp_path):
    decision = drift_report(frame(seed=1), frame(seed=2, shift={"hhi": 2.0}), FEATURES, tmp_path)
    assert decision.retrain is False
    assert decision.drifted_columns == ["hhi"]
    assert decision.reasons[0] == "1 of 6 features drifted (17% < 30%): hhi"


def test_threshold_sets_the_share_that_triggers_retraining(tmp_path):
    decision = drift_report(frame(seed=1), frame(seed=2, shift={"hhi": 2.0}), FEATURES, tmp_path, 0.1)
    assert decision.retrain is True
    assert decision.reasons[0] == "1 of 6 features drifted (17% >= 10%): hhi"


def test_report_is_written_as_html_and_json(tmp_path):
    out_dir = tmp_path / "reports" / "drift"
    decision = drift_report(frame(seed=1), frame(seed=2, shift={"hhi": 2.0}), FEATURES, out_dir)
    html = (out_dir / "drift_report.html").read_text()
    assert html.lstrip().startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "hhi" in html
    result = json.loads((out_dir / "drift_report.json").read_text())
    assert retrain_decision(result, 0.3) == decision  # the decision is the one the JSON file records
    monitored = [m["config"]["column"] for m in result["metrics"] if m["config"]["type"] == VALUE_DRIFT]
    assert monitored == FEATURES  # the id column is not part of the report


def test_decision_serialises_to_a_json_dict(tmp_path):
    decision = drift_report(frame(seed=1), frame(seed=2, shift={"hhi": 2.0}), FEATURES, tmp_path)
    restored = json.loads(json.dumps(decision.to_dict()))
    assert DriftDecision(**restored) == decision


def test_missing_feature_column_in_current_is_named(tmp_path):
    current = frame(seed=2).drop(columns=["sortino_12m"])
    with pytest.raises(ValueError, match=r"current data is missing feature column\(s\) sortino_12m"):
        drift_report(frame(seed=1), current, FEATURES, tmp_path)


def test_feature_without_values_is_named(tmp_path):
    current = frame(seed=2).assign(hhi=np.nan)
    with pytest.raises(ValueError, match=r"feature column\(s\) hhi have no values in the current data"):
        drift_report(frame(seed=1), current, FEATURES, tmp_path)


def test_empty_reference_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="reference data has no rows"):
        drift_report(frame(seed=1).iloc[:0], frame(seed=2), FEATURES, tmp_path)


def test_no_feature_columns_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="no feature columns"):
        drift_report(frame(seed=1), frame(seed=2), [], tmp_path)


@pytest.mark.parametrize("threshold", [0.0, 1.5])
def test_threshold_outside_zero_to_one_is_rejected(tmp_path, threshold):
    with pytest.raises(ValueError, match="must be in"):
        drift_report(frame(seed=1), frame(seed=2), FEATURES, tmp_path, threshold)


def test_retrain_decision_at_exactly_the_threshold_retrains():
    tests = [value_drift_test("a", "FAIL", "m1"), value_drift_test("b", "SUCCESS", "m2")]
    result = {"metrics": [{"id": "m1", "value": 0.0004}, {"id": "m2", "value": 0.6}], "tests": tests}
    decision = retrain_decision(result, 0.5)
    assert decision == DriftDecision(
        retrain=True,
        drifted_share=0.5,
        drifted_columns=["a"],
        reasons=["1 of 2 features drifted (50% >= 50%): a", "a: K-S p_value = 0.0004 (threshold 0.05)"],
    )


def test_retrain_decision_rejects_a_result_without_drift_tests():
    with pytest.raises(ValueError, match="include_tests=True"):
        retrain_decision({"metrics": [], "tests": []}, 0.3)
