"""Where each output of skillrank lives under the data root.

One place names every path, so steps never build paths of their own and the source directory
(read-only to skillrank) is never written to.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DataLayout:
    """Paths under one data root.

    Example:
        >>> DataLayout(Path("/d")).clean("trades")
        PosixPath('/d/clean/trades')
    """

    root: Path

    def clean(self, table: str) -> Path:
        return self.root / "clean" / table

    def quarantine(self, table: str) -> Path:
        return self.root / "quarantine" / table

    @property
    def reconciliation(self) -> Path:
        return self.root / "clean" / "_reconciliation.json"

    @property
    def features(self) -> Path:
        return self.root / "features"

    @property
    def labels(self) -> Path:
        return self.root / "labels"

    @property
    def scores(self) -> Path:
        return self.root / "scores"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def retrieval_index(self) -> Path:
        return self.root / "retrieval" / "candidates.parquet"

    @property
    def prediction_log(self) -> Path:
        """Every served feed, Parquet files rolled by time (docs/SERVING.md has the schema)."""
        return self.root / "predictions"

    @property
    def feast_dir(self) -> Path:
        return self.root / "feast"

    @property
    def mlartifacts(self) -> Path:
        return self.root / "mlartifacts"

    @property
    def kfp_root(self) -> Path:
        return self.root / "kfp"

    @property
    def monitoring(self) -> Path:
        """The monitor's time series, the windows it scored and its decisions (docs/MONITORING.md)."""
        return self.root / "monitoring"

    @property
    def monitoring_reports(self) -> Path:
        """The monitoring report: the decisions and every series plotted."""
        return self.reports / "monitoring"

    @property
    def drift_reports(self) -> Path:
        """The Evidently drift report (HTML and JSON) of the latest served window."""
        return self.reports / "drift"

    @property
    def training_lock(self) -> Path:
        """Held while a retrain the monitor launched runs, so that two decisions never train twice."""
        return self.root / "training.lock"

    @property
    def stream_events(self) -> Path:
        """The streaming job's file source: ``trades/`` and ``snapshots/`` event files."""
        return self.root / "events"

    @property
    def stream_checkpoint(self) -> Path:
        """The streaming job's checkpoint (offsets and state), which a restart resumes from."""
        return self.root / "checkpoints" / "intraday"

    @property
    def intraday(self) -> Path:
        """The batch source behind the intraday push source (the online store is what the job fills)."""
        return self.root / "intraday"
