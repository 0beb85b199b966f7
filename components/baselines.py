"""Heuristic rankings the model must beat. Each maps a feature frame to a score (higher = better)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def roi_log_days(features: pd.DataFrame) -> pd.Series:
    """The design's baseline: return since inception times log(days active)."""
    return features["roi_since_inception"] * np.log1p(features["tenure_days"].clip(lower=0))


BASELINES = {"roi_log_days": roi_log_days}
