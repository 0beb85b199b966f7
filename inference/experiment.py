"""The feed's A/B split: each viewer always lands in the same arm, dealt by a hash of its id and a salt.

``treatment`` sees the model's ranking, ``control`` the heuristic the platform would show without it
(return since inception × log of the account's age, `control_scores`). The arm depends only on the
viewer id, the experiment's salt and the treatment share (settings ``ab_salt``,
``ab_treatment_share``): every worker and every restart deals the same viewer the same arm, a new
salt deals everyone anew, and raising the share only moves viewers from control to treatment. An
anonymous request (no viewer id) is outside the experiment: arm ``none``, the model's ranking.
"""

from __future__ import annotations

import hashlib

import numpy as np

TREATMENT = "treatment"
CONTROL = "control"
UNASSIGNED = "none"
_SCALE = float(2**64)


def assign_arm(viewer_id: str | None, salt: str, treatment_share: float) -> str:
    """The arm of `viewer_id`: ``treatment`` when its hash falls below `treatment_share`, else ``control``.

    Example:
        >>> assign_arm("u-42", "discover-ab-1", 0.5) == assign_arm("u-42", "discover-ab-1", 0.5)
        True
        >>> assign_arm("u-42", "discover-ab-1", 1.0), assign_arm("u-42", "discover-ab-1", 0.0)
        ('treatment', 'control')
        >>> assign_arm(None, "discover-ab-1", 0.5)
        'none'
    """
    if viewer_id is None:
        return UNASSIGNED
    return TREATMENT if bucket(viewer_id, salt) < treatment_share else CONTROL


def bucket(viewer_id: str, salt: str) -> float:
    """A uniform number in [0, 1) from the viewer id and the salt (BLAKE2b, stable across processes)."""
    digest = hashlib.blake2b(f"{salt}\x1f{viewer_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def control_scores(roi_since_inception: np.ndarray, tenure_days: np.ndarray) -> np.ndarray:
    """The control arm's heuristic: return since inception × log(1 + days since opening); NaN ranks last.

    Example:
        >>> control_scores(np.array([0.5, -0.2, np.nan]), np.array([365.0, 1000.0, 10.0])).round(3)
        array([ 2.951, -1.382,   -inf])
    """
    scores = np.asarray(roi_since_inception, dtype=float) * np.log1p(np.clip(tenure_days, 0, None))
    return np.where(np.isnan(scores), -np.inf, scores)
