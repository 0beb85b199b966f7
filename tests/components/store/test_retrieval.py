"""Stage 1 retrieval: who is eligible, in which order, how many, from which as-of date."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from components.config.settings import Settings
from components.errors import DataError
from components.store.retrieval import SECTOR, RetrievalIndex, build_retrieval_index, write_retrieval_index
from feature_repo.definitions import retrieval_v1, service_features
from inference import snapshot

AS_OF = pd.Timestamp("2021-06-30")


def accounts(**columns) -> pd.DataFrame:
    """Eligible accounts a, b, c (prior 0.5, 1.5, 1.0) unless `columns` overrides a column."""
    base = {
        "account_id": ["a", "b", "c"],
        "as_of_date": AS_OF,
        "trade_count_12m": [20.0, 20.0, 20.0],
        "hhi": [0.3, 0.3, 0.3],
        "track_record_days": [300.0, 300.0, 300.0],
        "sharpe_tstat_inception": [0.5, 1.5, 1.0],
    }
    return pd.DataFrame({**base, **columns})


def ids(frame: pd.DataFrame, **params) -> list[str]:
    return RetrievalIndex(**params).fit(frame).index_["account_id"].tolist()


def test_candidates_are_ordered_by_the_prior():
    assert ids(accounts()) == ["b", "c", "a"]


def test_the_cap_keeps_the_best_priors():
    assert ids(accounts(), max_candidates=2) == ["b", "c"]


def test_too_few_trades_is_ineligible():
    assert ids(accounts(trade_count_12m=[20.0, 9.0, 10.0]), min_trades=10) == ["c", "a"]


def test_a_concentrated_book_is_ineligible():
    assert ids(accounts(hhi=[0.3, 0.85, 0.8]), min_diversification=0.2) == ["c", "a"]


def test_no_track_record_is_ineligible():
    assert ids(accounts(track_record_days=[300.0, 0.0, np.nan])) == ["a"]


def test_a_missing_prior_sorts_last():
    assert ids(accounts(sharpe_tstat_inception=[0.5, np.nan, 1.0])) == ["c", "a", "b"]


def test_ties_in_the_prior_break_by_account_id():
    assert ids(accounts(sharpe_tstat_inception=[1.0, 1.0, 1.0])) == ["a", "b", "c"]


def test_fit_counts_the_eligible_before_the_cap():
    retrieval = RetrievalIndex(max_candidates=1).fit(accounts())
    assert (retrieval.n_eligible_, len(retrieval.index_)) == (3, 1)


def test_missing_columns_are_named():
    with pytest.raises(DataError, match=r"retrieval's latest features lacks the columns \['hhi'\]"):
        RetrievalIndex().fit(accounts().drop(columns="hhi"))


def test_retrieval_reads_the_inputs_of_its_feature_service():
    assert set(accounts().columns) - {"account_id", "as_of_date"} == set(service_features(retrieval_v1))


def test_build_uses_the_settings_rules():
    settings = Settings(data_root="unused", min_trades=25, max_candidates=5)
    frame = build_retrieval_index(accounts(trade_count_12m=[30.0, 20.0, 30.0]), settings)
    assert frame.columns.tolist() == ["account_id", "as_of_date", "prior"]
    assert frame["account_id"].tolist() == ["c", "a"]
    assert frame["prior"].tolist() == [1.0, 0.5]


def test_write_reads_only_the_latest_as_of_date(tmp_path):
    settings = Settings(data_root=tmp_path)
    older = accounts(as_of_date=AS_OF - pd.Timedelta(days=30), sharpe_tstat_inception=[9.0, 9.0, 9.0])
    latest = accounts().iloc[:2]
    settings.layout.features.mkdir(parents=True)
    pd.concat([older, latest]).to_parquet(settings.layout.features / "part-0.parquet", index=False)
    assert write_retrieval_index(settings.layout, settings) == 2
    index = pd.read_parquet(settings.layout.retrieval_index)
    assert index["account_id"].tolist() == ["b", "a"]
    assert (index["as_of_date"] == AS_OF).all()


def test_a_cap_below_one_is_a_data_error():
    with pytest.raises(DataError, match="max_candidates must be at least 1, got 0"):
        RetrievalIndex(max_candidates=0).fit(accounts())


def test_the_index_carries_each_candidates_main_sector_as_its_sector():
    frame = accounts(main_sector=["Tech", "Energy", None], trade_count_12m=[20.0, 20.0, 3.0])
    index = RetrievalIndex(min_trades=10).fit(frame).index_
    assert index.columns.tolist() == ["account_id", "as_of_date", "prior", SECTOR]
    assert index[["account_id", SECTOR]].values.tolist() == [["b", "Energy"], ["a", "Tech"]]


def test_the_sector_column_is_the_one_the_feed_filters_by():
    assert SECTOR == snapshot.SECTOR  # inference may not import components.store: the name is checked here


def test_write_carries_the_latest_main_sector_and_its_nulls(tmp_path):
    settings = Settings(data_root=tmp_path)
    older = accounts(as_of_date=AS_OF - pd.Timedelta(days=30), main_sector=["Index", "Index", "Index"])
    latest = accounts(main_sector=["Tech", None, "Energy"])
    settings.layout.features.mkdir(parents=True)
    pd.concat([older, latest]).to_parquet(settings.layout.features / "part-0.parquet", index=False)
    write_retrieval_index(settings.layout, settings)
    index = pd.read_parquet(settings.layout.retrieval_index)
    assert index["account_id"].tolist() == ["b", "c", "a"]
    assert index[SECTOR].tolist() == [None, "Energy", "Tech"]


def test_a_feature_table_without_main_sectors_gives_an_index_without_sectors(tmp_path):
    settings = Settings(data_root=tmp_path)
    settings.layout.features.mkdir(parents=True)
    accounts().to_parquet(settings.layout.features / "part-0.parquet", index=False)
    write_retrieval_index(settings.layout, settings)
    assert SECTOR not in pd.read_parquet(settings.layout.retrieval_index).columns


def test_writing_without_a_feature_table_is_a_data_error(tmp_path):
    settings = Settings(data_root=tmp_path)
    with pytest.raises(DataError, match="no table at .*features: run the feature job first"):
        write_retrieval_index(settings.layout, settings)
