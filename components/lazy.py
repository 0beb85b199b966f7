"""Re-exports of a package loaded on first use (PEP 562), so importing one module of it stays cheap.

A pipeline step that needs `components.release.gate` would otherwise import, through the package's
``__init__``, every module the package re-exports (MLflow, Feast, LightGBM, skfolio: 5-10 s per step
on two cores); each KFP step is a new process and pays it again.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable


def lazy_exports(package: str, exports: dict[str, str]) -> Callable[[str], object]:
    """The module ``__getattr__`` of `package` that imports each of `exports` (name -> module) on first use.

    Example:
        >>> getattr_ = lazy_exports("pkg", {"sqrt": "math"})
        >>> getattr_("sqrt")(9.0)
        3.0
    """

    def __getattr__(name: str) -> object:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(exports[name]), name)

    return __getattr__
