"""Contract tables of a chunk: opaque ids and per-account numbering."""

from __future__ import annotations

import numpy as np

from components.simulator.tables import account_ids, hex_ids, per_account_seq


def test_hex_ids_of_distinct_keys_are_distinct():
    ids = hex_ids("t", np.arange(10_000, dtype=np.uint64)).to_pylist()
    assert len(set(ids)) == 10_000
    assert all(len(i) == 17 and i.startswith("t") for i in ids)


def test_per_account_seq_numbers_each_accounts_rows_in_order():
    np.testing.assert_array_equal(per_account_seq(np.array([3, 1, 3, 3, 1])), [0, 0, 1, 2, 1])


def test_account_ids_are_fixed_by_the_seed():
    index = np.arange(5)
    assert account_ids(7, index).equals(account_ids(7, index))
    assert set(account_ids(7, index).to_pylist()).isdisjoint(account_ids(8, index).to_pylist())
