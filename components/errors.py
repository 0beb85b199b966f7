"""The one exception type for input a user can fix: a table, column, file or setting that is wrong.

Steps raise `DataError` (or its subclass `components.contract.reader.ContractError` for the source
directory) with a message that names what is wrong and what to do; the CLI prints it as one line and
exits 2. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class DataError(ValueError):
    """Data or configuration that breaks what a step needs, said in one line.

    A `ValueError`, so callers that already catch bad values keep working.

    Example:
        >>> str(DataError("the feature table lacks ['hhi']"))
        "the feature table lacks ['hhi']"
    """


def require_columns(columns, needed, what: str) -> None:
    """Raise `DataError` naming the columns of `needed` that `columns` lacks.

    Args:
        columns: The columns present (a DataFrame's ``columns``, a schema's names, any iterable).
        needed: The columns `what` needs, in the order to report them.
        what: Who needs them, for the message (e.g. ``"the feature table .../features"``).

    Example:
        >>> require_columns(["a"], ["a", "b"], "scoring")
        Traceback (most recent call last):
        ...
        components.errors.DataError: scoring lacks the columns ['b']
    """
    present = set(columns)
    missing = [name for name in needed if name not in present]
    if missing:
        raise DataError(f"{what} lacks the columns {missing}")
