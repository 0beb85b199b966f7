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
    def feast_dir(self) -> Path:
        return self.root / "feast"

    @property
    def mlartifacts(self) -> Path:
        return self.root / "mlartifacts"

    @property
    def kfp_root(self) -> Path:
        return self.root / "kfp"
