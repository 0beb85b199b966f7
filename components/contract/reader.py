"""Read a source directory in the platform data contract, with its declared types.

Everything is checked before anything is written: a missing table or column, or a column whose
values cannot be cast to the declared type, stops the run with one `ContractError` that names the
table, the column and what was expected.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from components.contract.tables import OPTIONAL_TABLES, REQUIRED_TABLES, TABLES
from components.errors import DataError


class ContractError(DataError):
    """The source directory does not follow the data contract."""


def read_source(source: Path) -> dict[str, pa.Table]:
    """Read every contract table of `source` that is present, cast to the contract's types.

    Args:
        source: A directory with one folder of Parquet files per table (any number of part files,
            hive-partitioned or not, columns in any order, extra columns and tables ignored).

    Returns:
        Table name -> Arrow table with exactly the contract's columns, in the contract's order.
        Optional tables (``truth``) are included only when present.

    Raises:
        ContractError: a required table or column is missing, or a column cannot be cast.
    """
    source = Path(source)
    if not source.is_dir():
        raise ContractError(f"source directory {source} does not exist")
    tables = {name: read_contract_table(source, name) for name in REQUIRED_TABLES}
    for name in OPTIONAL_TABLES:
        if (source / name).is_dir():
            tables[name] = read_contract_table(source, name)
    return tables


def read_contract_table(source: Path, name: str) -> pa.Table:
    """Read table `name` from `source` and cast it to the contract's schema."""
    folder = source / name
    if not folder.is_dir():
        raise ContractError(f"table '{name}' is missing: expected a folder of Parquet files at {folder}")
    try:
        dataset = ds.dataset(folder, format="parquet", partitioning="hive", exclude_invalid_files=True)
    except (pa.ArrowInvalid, OSError) as e:
        raise ContractError(f"table '{name}': cannot read Parquet files in {folder}: {e}") from e
    expected = TABLES[name]
    missing = [column for column in expected if column not in dataset.schema.names]
    if missing:
        found = ", ".join(dataset.schema.names) or "none"
        raise ContractError(f"table '{name}' is missing column(s) {', '.join(missing)} (found: {found})")
    table = dataset.to_table(columns=list(expected))
    return pa.table(
        {column: cast_column(name, column, table[column], expected[column]) for column in expected}
    )


def cast_column(table: str, column: str, values: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
    """Cast one column to its contract type, or raise a `ContractError` that says what was expected."""
    if values.type == target:
        return values
    if pa.types.is_date(target) and pa.types.is_timestamp(values.type):
        return pc.cast(values, target)  # a timestamp at midnight is a date; the time part is dropped
    try:
        return pc.cast(values, target, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        raise ContractError(
            f"table '{table}' column '{column}' has type {values.type}, expected {target} "
            f"(values cannot be cast: {str(e).splitlines()[0]})"
        ) from e
