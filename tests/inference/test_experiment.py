"""The A/B split: deterministic per viewer, split by the share, dealt anew by a new salt."""

from __future__ import annotations

import numpy as np
import pytest

from inference.experiment import CONTROL, TREATMENT, UNASSIGNED, assign_arm, bucket, control_scores

VIEWERS = [f"viewer-{n}" for n in range(20_000)]


def test_a_viewer_always_lands_in_the_same_arm():
    assert [assign_arm(v, "s", 0.5) for v in VIEWERS[:100]] == [
        assign_arm(v, "s", 0.5) for v in VIEWERS[:100]
    ]


@pytest.mark.parametrize("share", [0.1, 0.5, 0.9])
def test_the_treatment_share_is_the_share_of_viewers_treated(share):
    treated = np.mean([assign_arm(v, "discover-ab-1", share) == TREATMENT for v in VIEWERS])
    assert treated == pytest.approx(share, abs=0.015)  # 20,000 viewers: 4 standard errors at most


def test_a_larger_share_only_moves_viewers_from_control_to_treatment():
    small = {v for v in VIEWERS if assign_arm(v, "s", 0.2) == TREATMENT}
    large = {v for v in VIEWERS if assign_arm(v, "s", 0.6) == TREATMENT}
    assert small < large


def test_a_new_salt_deals_viewers_anew():
    first = np.array([assign_arm(v, "a", 0.5) == TREATMENT for v in VIEWERS])
    second = np.array([assign_arm(v, "b", 0.5) == TREATMENT for v in VIEWERS])
    assert np.mean(first == second) == pytest.approx(0.5, abs=0.02)  # independent of the old split


def test_buckets_are_uniform():
    buckets = np.array([bucket(v, "s") for v in VIEWERS])
    assert buckets.min() >= 0 and buckets.max() < 1
    assert np.histogram(buckets, bins=10, range=(0, 1))[0] == pytest.approx([2000] * 10, abs=200)


def test_anonymous_viewers_are_outside_the_experiment():
    assert assign_arm(None, "s", 0.5) == UNASSIGNED


def test_the_shares_at_the_bounds():
    assert {assign_arm(v, "s", 0.0) for v in VIEWERS[:200]} == {CONTROL}
    assert {assign_arm(v, "s", 1.0) for v in VIEWERS[:200]} == {TREATMENT}


def test_the_control_heuristic_is_roi_times_log_days():
    scores = control_scores(np.array([0.5, 0.5, -0.5]), np.array([100.0, 1000.0, 1000.0]))
    assert scores.tolist() == pytest.approx([0.5 * np.log(101), 0.5 * np.log(1001), -0.5 * np.log(1001)])
    assert control_scores(np.array([np.nan]), np.array([10.0])).tolist() == [-np.inf]
