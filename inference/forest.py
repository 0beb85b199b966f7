"""A LightGBM Booster's predictions from native code: the booster compiled by lleaves (LLVM), checked.

LightGBM's own ``predict`` walks its trees through a general-purpose C++ interpreter: about 40 µs a row
for the champion's 500 trees of 15 leaves, on one thread. lleaves compiles the same model text into
machine code with LLVM (llvmlite's wheels, no system compiler), 4–9 times faster on one core, and its
scores are LightGBM's to rounding (they are checked on probe rows before use; a model lleaves cannot
compile, or whose scores differ, keeps LightGBM's ``predict``). The compiled object is cached on disk by
the model text's hash, so a second worker or a restart loads it in milliseconds instead of compiling
for seconds. Feature contributions (SHAP values) are always LightGBM's.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from pathlib import Path

import lightgbm as lgb
import numpy as np

logger = logging.getLogger(__name__)

CACHE_DIR = Path(tempfile.gettempdir()) / "skillrank-compiled-models"
TOLERANCE = 1e-9  # largest difference from LightGBM's scores on the probe rows
PROBE_ROWS = 64


class Forest:
    """Scores and contributions of one Booster, from compiled code when lleaves can compile it.

    Args:
        booster: The LightGBM Booster.
        compile: Try lleaves (False: LightGBM's ``predict`` only).
        cache_dir: Where compiled objects are kept, by the model text's SHA-256.

    Attributes:
        compiled: Whether scores come from compiled code.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(200, 3))
        >>> booster = lgb.train({"verbose": -1, "num_threads": 1}, lgb.Dataset(x, x[:, 0]), num_boost_round=5)
        >>> forest = Forest(booster, compile=False)
        >>> bool(np.allclose(forest.predict(x[:2]), booster.predict(x[:2])))
        True
    """

    def __init__(self, booster: lgb.Booster, *, compile: bool = True, cache_dir: Path = CACHE_DIR):
        self.booster = booster
        self.compile = compile
        self.cache_dir = Path(cache_dir)
        self.n_features = booster.num_feature()
        self._compiled = self._compile() if compile else None

    @property
    def compiled(self) -> bool:
        return self._compiled is not None

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Scores of float64 rows (NaN for missing), on one thread, as LightGBM's ``predict``."""
        if not len(features):
            return np.empty(0)
        if self._compiled is not None:
            return self._compiled.predict(np.ascontiguousarray(features, dtype=np.float64), n_jobs=1)
        return self.booster.predict(features, num_threads=1)

    def contributions(self, features: np.ndarray) -> np.ndarray:
        """SHAP values of each row, one column per feature (the bias column left out)."""
        if not len(features):
            return np.empty((0, self.n_features))
        return self.booster.predict(features, pred_contrib=True, num_threads=1)[:, : self.n_features]

    def _compile(self):
        text = self.booster.model_to_string()
        digest = hashlib.sha256(text.encode()).hexdigest()[:24]
        try:
            import lleaves

            self.cache_dir.mkdir(parents=True, exist_ok=True)
            model_file = self.cache_dir / f"{digest}.txt"
            if not model_file.exists():
                model_file.write_text(text)
            compiled = lleaves.Model(model_file=str(model_file))
            compiled.compile(cache=str(self.cache_dir / f"{digest}.o"))
        except Exception as e:  # an unsupported model, an LLVM error: LightGBM still scores it
            logger.warning("lleaves cannot compile the model (%s); scoring with LightGBM's predict", e)
            return None
        probe = probe_rows(self.n_features)
        difference = float(np.max(np.abs(compiled.predict(probe, n_jobs=1) - self.booster.predict(probe))))
        if not difference <= TOLERANCE:
            logger.warning("compiled scores differ from LightGBM's by %g; scoring with LightGBM", difference)
            return None
        return compiled

    def __getstate__(self) -> dict:
        # Compiled code is a ctypes handle: a worker process loads it again from the cache.
        return {key: value for key, value in self.__dict__.items() if key != "_compiled"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._compiled = self._compile() if self.compile else None


def probe_rows(n_features: int, seed: int = 0) -> np.ndarray:
    """Rows that reach many leaves: normal values at several scales, zeros and missing values."""
    rng = np.random.default_rng(seed)
    rows = rng.normal(size=(PROBE_ROWS, n_features)) * rng.choice([0.1, 1.0, 10.0, 1000.0], (PROBE_ROWS, 1))
    rows[::8] = 0.0
    rows[1::8, :: max(n_features // 2, 1)] = np.nan
    return rows
