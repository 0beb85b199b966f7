"""MLflow's process-global state pointed at a database nobody may create, to prove a step passes a client.

A step that took MLflow's global tracking or registry URI instead of its client would create
``elsewhere.db``; `Elsewhere.used` says whether it did. Every change goes through a
`pytest.MonkeyPatch`, so the globals come back when it is undone.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import fluent
from mlflow.tracking._model_registry import utils as registry_utils
from mlflow.tracking._tracking_service import utils as tracking_utils


class Elsewhere:
    """Points MLflow's globals at an unused database, as often as a test needs (after `use_experiment`)."""

    def __init__(self, path: Path, monkeypatch: pytest.MonkeyPatch):
        self.path, self.uri, self._monkeypatch = path, f"sqlite:///{path}", monkeypatch
        self.point()

    def point(self) -> None:
        patch = self._monkeypatch  # the first patch of each name keeps the value to restore
        patch.setattr(tracking_utils, "_tracking_uri", self.uri)
        patch.setattr(registry_utils, "_registry_uri", self.uri)
        patch.setattr(fluent, "_active_experiment_id", None)
        for variable in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
            patch.setenv(variable, self.uri)
        patch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)

    @property
    def used(self) -> bool:
        return self.path.exists()
