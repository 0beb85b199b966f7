"""Contract checks at ingest: a violation stops the run with one clear message and writes nothing."""

import shutil

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from components.config.layout import DataLayout
from components.contract.ingest import ingest
from components.contract.reader import ContractError, read_source
from pipelines.cli import main
from tests.handworld import write_export


@pytest.fixture
def export(tmp_path):
    root = tmp_path / "export"
    write_export(root)
    return root


def run_cli(source, data_root, capsys):
    code = main(["--data-root", str(data_root), "run", "--source", str(source)])
    return code, capsys.readouterr().err.strip()


def test_missing_table_names_it_and_writes_nothing(export, tmp_path, capsys):
    shutil.rmtree(export / "snapshots")
    code, message = run_cli(export, tmp_path / "out", capsys)
    assert code == 2
    assert "table 'snapshots' is missing" in message
    assert len(message.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_missing_column_names_table_and_column(export, tmp_path, capsys):
    for part in (export / "trades").glob("*.parquet"):
        pq.write_table(pq.read_table(part).drop_columns(["qty"]), part)
    code, message = run_cli(export, tmp_path / "out", capsys)
    assert code == 2
    assert "table 'trades' is missing column(s) qty" in message
    assert not (tmp_path / "out").exists()


def test_uncastable_column_names_type_expected(export, tmp_path, capsys):
    for part in (export / "snapshots").glob("*.parquet"):
        table = pq.read_table(part)
        bad = pa.array(["lots"] * len(table))
        pq.write_table(table.set_column(table.schema.get_field_index("equity"), "equity", bad), part)
    code, message = run_cli(export, tmp_path / "out", capsys)
    assert code == 2
    assert "table 'snapshots' column 'equity' has type string, expected double" in message
    assert not (tmp_path / "out").exists()


def test_data_root_inside_source_is_refused(export, capsys):
    code, message = run_cli(export, export / "out", capsys)
    assert code == 2
    assert "only reads" in message
    assert not (export / "out").exists()


def test_extra_columns_tables_and_column_order_are_ignored(export):
    tables = read_source(export)
    assert set(tables) == {"accounts", "trades", "snapshots", "market", "sectors"}
    assert tables["trades"].column_names == [
        "trade_id",
        "account_id",
        "ts",
        "symbol",
        "side",
        "qty",
        "price",
        "fee",
    ]


def test_hive_partitioned_table_is_read(export):
    snapshots = pd.read_parquet(export / "snapshots")
    shutil.rmtree(export / "snapshots")
    snapshots["month"] = pd.to_datetime(snapshots["date"]).dt.month
    snapshots.to_parquet(export / "snapshots", partition_cols=["month"], index=False)
    assert read_source(export)["snapshots"].num_rows == len(snapshots)


def test_missing_source_directory(tmp_path):
    with pytest.raises(ContractError, match="does not exist"):
        read_source(tmp_path / "nowhere")


def test_contract_error_leaves_previous_outputs_alone(export, tmp_path):
    layout = DataLayout(tmp_path / "out")
    ingest(export, layout)
    before = sorted(p.name for p in layout.root.rglob("*"))
    shutil.rmtree(export / "market")
    with pytest.raises(ContractError, match="table 'market' is missing"):
        ingest(export, layout)
    assert sorted(p.name for p in layout.root.rglob("*")) == before
