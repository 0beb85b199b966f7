"""The feature schema and its documentation agree (pure Python, no Spark)."""

from __future__ import annotations

import re
from pathlib import Path

from feature_repo.feature_schema import FEATURES

DOC = Path(__file__).resolve().parents[2] / "docs" / "FEATURES.md"


def test_every_feature_is_in_the_features_page():
    documented = set(re.findall(r"`([a-z0-9_]+)`", DOC.read_text()))
    assert set(FEATURES) <= documented


def test_every_feature_has_a_one_line_meaning():
    assert all(text.strip() and "\n" not in text for text in FEATURES.values())


def test_no_label_is_a_feature():
    assert not [name for name in FEATURES if name.startswith("fwd_")]
