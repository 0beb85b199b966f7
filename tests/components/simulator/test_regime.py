"""The regime-change knob: off, the world is the same to the byte; on, it changes only its accounts'
choices from its first day (fewer holdings, less leverage)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from components.simulator.params import WorldParams
from components.simulator.trading import RegimeShift, regime_shift, target_weights
from components.simulator.traits import Traits
from components.simulator.world import simulate_world

START, END = date(2020, 1, 1), date(2020, 6, 30)


def files(root) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.parquet"))}


def test_without_a_regime_start_the_world_is_byte_identical(tmp_path):
    simulate_world(tmp_path / "default", 120, START, END, seed=5)
    simulate_world(
        tmp_path / "knob", 120, START, END, seed=5, params=WorldParams(regime_start=None, regime_share=0.9)
    )
    assert files(tmp_path / "default") == files(tmp_path / "knob")


def test_a_regime_after_the_last_day_changes_nothing_but_draws_nothing_else_either(tmp_path):
    simulate_world(tmp_path / "default", 120, START, END, seed=5)
    simulate_world(
        tmp_path / "late", 120, START, END, seed=5, params=WorldParams(regime_start=date(2021, 1, 4))
    )
    assert files(tmp_path / "default") == files(tmp_path / "late")  # its own stream: the others are untouched


def test_before_the_regime_the_world_is_the_same_and_after_it_accounts_concentrate(tmp_path):
    regime = date(2020, 4, 1)
    simulate_world(tmp_path / "quiet", 150, START, END, seed=5, inject_faults=False)
    simulate_world(
        tmp_path / "shift",
        150,
        START,
        END,
        seed=5,
        inject_faults=False,
        params=WorldParams(regime_start=regime),
    )
    quiet, shift = (pd.read_parquet(tmp_path / name / "trades") for name in ("quiet", "shift"))
    before = pd.Timestamp(regime)
    keys = ["account_id", "ts", "symbol"]
    pd.testing.assert_frame_equal(
        quiet[quiet["ts"] < before].sort_values(keys).reset_index(drop=True),
        shift[shift["ts"] < before].sort_values(keys).reset_index(drop=True),
    )
    assert held_names(tmp_path / "shift", END) < held_names(tmp_path / "quiet", END)


def held_names(world, day: date) -> float:
    """Mean number of symbols the accounts hold at the end of `day`."""
    trades = pd.read_parquet(world / "trades")
    signed = np.where(trades["side"] == "buy", trades["qty"], -trades["qty"])
    shares = pd.Series(signed, index=[trades["account_id"], trades["symbol"]]).groupby(level=[0, 1]).sum()
    return float((shares.abs() > 1e-9).groupby(level=0).sum().mean())


def test_affected_accounts_hold_at_most_the_regimes_names_at_its_leverage(tiny_market):
    traits = Traits(
        skill=np.zeros(2),
        archetype=np.array(["unskilled"] * 2),
        leverage=np.array([1.0, 1.0]),
        n_hold=np.array([3, 3]),
        period=np.array([2, 2]),
        hot_weight=np.zeros(2),
        allowed=np.ones((2, 3), bool),
        open_day=np.zeros(2, int),
        deposit=np.full(2, 1000.0),
        country=np.array(["GB", "GB"]),
    )
    shift = RegimeShift(first_x=2, affected=np.array([True, False]), holdings=1, leverage=0.5)
    rows, noise = np.array([0, 1]), np.random.default_rng(0).standard_normal((2, 3))
    before = target_weights(tiny_market, 1, traits, rows, noise, shift)
    after = target_weights(tiny_market, 2, traits, rows, noise, shift)
    np.testing.assert_allclose(before.sum(axis=1), [1.0, 1.0])
    assert (before > 0).sum(axis=1).tolist() == [3, 3]
    assert (after > 0).sum(axis=1).tolist() == [1, 3]  # the affected account keeps one name
    np.testing.assert_allclose(after.sum(axis=1), [0.5, 1.0])  # at half its leverage


def test_the_regime_starts_on_the_first_trading_day_from_its_date(tiny_market):
    shift = regime_shift(tiny_market, 1, 0, 4, WorldParams(regime_start=date(2020, 1, 4), regime_share=1.0))
    assert tiny_market.days[shift.first_x] == np.datetime64("2020-01-04") and shift.affected.all()
    assert regime_shift(tiny_market, 1, 0, 4, WorldParams()) is None
