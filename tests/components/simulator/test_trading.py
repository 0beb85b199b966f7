"""The daily step: the private signal, picking and scaling holdings, fills and closures."""

from __future__ import annotations

import numpy as np

from components.simulator.params import WorldParams
from components.simulator.trading import Book, draw_closures, fill, private_signal, top_n, zscore_rows


def test_a_perfect_signal_is_the_zscored_forward_return_and_a_zero_skill_one_pure_noise(tiny_market):
    noise = np.random.default_rng(0).standard_normal((2, 3))
    signal = private_signal(tiny_market, 1, np.array([2, 2]), np.array([1.0, 0.0]), noise)
    forward = tiny_market.log_close[3] - tiny_market.log_close[1]
    np.testing.assert_allclose(signal[0], zscore_rows(forward[None, :])[0])
    np.testing.assert_allclose(signal[1], noise[1])


def test_top_n_keeps_the_highest_finite_values():
    signal = np.array([[0.1, 0.9, -np.inf, 0.5], [-np.inf, -np.inf, 0.2, -np.inf]])
    picked = top_n(signal, np.array([2, 3]))
    np.testing.assert_array_equal(picked, [[False, True, False, True], [False, False, True, False]])


def test_zscore_rows_standardises_each_row_and_leaves_flat_rows_at_zero():
    z = zscore_rows(np.array([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]]))
    np.testing.assert_allclose(z[0], [-1.224744871, 0.0, 1.224744871])
    np.testing.assert_array_equal(z[1], [0.0, 0.0, 0.0])


def test_fill_skips_small_changes_but_an_exit_sells_everything():
    book = Book.empty(2, 2)
    book.cash[:] = 1000.0
    book.shares[1, 1] = 0.1  # worth 2, below 1% of equity
    price, equity = np.array([10.0, 20.0]), np.array([1000.0, 1002.0])
    fill(book, 0, np.array([0, 1]), np.array([[50.0, 0.1], [0.0, 0.0]]), price, equity, WorldParams())
    np.testing.assert_allclose(book.shares, [[50.0, 0.0], [0.0, 0.0]])
    np.testing.assert_allclose(book.cash, [1000.0 - 500.0 - 0.25, 1000.0 + 2.0 - 0.001])
    account, day, symbol, qty, _, _ = book.fills[0]
    assert account.tolist() == [0, 1] and symbol.tolist() == [0, 1] and qty.tolist() == [50.0, -0.1]


def test_blown_up_accounts_close_and_others_stay_without_random_quits():
    closing = draw_closures(
        np.random.default_rng(0),
        eligible=np.array([True, True, False]),
        equity=np.array([100.0, 500.0, 100.0]),
        net_deposit=np.array([1000.0, 1000.0, 1000.0]),
        params=WorldParams(quit_rate=0.0),
    )
    assert closing.tolist() == [True, False, False]
