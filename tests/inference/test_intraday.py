"""The feed's fresh adjustments, in a world whose accounts have main sectors: the sector filter on the
published index, and intraday features pushed into the real SQLite online store (Feast's push source)
that the transformer reads at each build and each poll."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pandas as pd
import pytest
from feast.data_source import PushMode
from kserve.protocol.infer_type import InferInput, InferRequest
from prometheus_client import REGISTRY

from components.config.feast import feature_store
from feature_repo.definitions import account_intraday_push, intraday_definitions
from feature_repo.feature_schema import ENTITY_KEY, INTRADAY_FEATURES, INTRADAY_TIMESTAMP, MAIN_SECTOR
from inference.intraday import RETURN, TRADES, IntradayValues, align, read_intraday
from inference.snapshot import SECTOR
from tests.inference.test_transformer import feed, index, make_transformer
from tests.serving_world import build_world

SECTORS = ("Energy", "Technology", "Health", "Energy", None)  # None: an account that holds nothing
TOP_K = 20


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """This module's own world (it pushes into its online store), with main sectors."""
    return build_world(tmp_path_factory.mktemp("intraday-world"), n_accounts=60, top_k=10, sectors=SECTORS)


@pytest.fixture(scope="module")
def baseline(world, predictor) -> dict:
    """The feed while the intraday view is not registered (before `store` registers it)."""
    model = make_transformer(world, predictor)
    assert model.snapshot_.intraday is None and model.intraday_.frame.empty
    return feed(model, {"top_k": TOP_K})


@pytest.fixture(scope="module")
def store(world, baseline):
    """The world's store with the intraday declarations registered, as the streaming job registers them."""
    store = feature_store(world.settings)
    store.apply(intraday_definitions(world.settings.layout.root))
    return store


def push(store, values: dict[str, dict[str, float]], at: pd.Timestamp) -> None:
    """Push intraday features of the accounts of `values` (unnamed features 0), as of `at`."""
    rows = [
        {ENTITY_KEY: account, INTRADAY_TIMESTAMP: at, **dict.fromkeys(INTRADAY_FEATURES, 0.0), **given}
        for account, given in values.items()
    ]
    store.push(account_intraday_push.name, pd.DataFrame(rows), to=PushMode.ONLINE)


def now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def ids(result: dict) -> list[str]:
    return [i["account_id"] for i in result["investors"]]


def watch_until(model, done, timeout: float = 20.0) -> bool:
    """Run the transformer's watch loop until `done()` or `timeout` seconds; whether it got done."""

    async def run() -> bool:
        task = asyncio.get_running_loop().create_task(model._watch())
        deadline = time.monotonic() + timeout
        try:
            while not done() and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
        finally:
            task.cancel()
        return done()

    return asyncio.run(run())


def followable(model, account: str) -> bool:
    """Whether the served snapshot's intraday values let `account` into the feed."""
    snapshot = model.snapshot_
    return snapshot.intraday is None or bool(snapshot.intraday.followable[snapshot.position[account]])


def fallbacks(cause: str) -> float:
    return REGISTRY.get_sample_value("skillrank_intraday_fallbacks_total", {"cause": cause}) or 0.0


# --- the sector filter ---------------------------------------------------------------------------------


def test_the_index_carries_each_candidate_s_main_sector(world):
    candidates = index(world)
    expected = world.latest.loc[candidates["account_id"], MAIN_SECTOR].tolist()
    assert candidates[SECTOR].tolist() == expected and candidates[SECTOR].notna().any()


def test_a_sector_filter_shows_only_those_sectors_in_the_model_s_order(world, predictor):
    model = make_transformer(world, predictor)
    sector_of = world.latest[MAIN_SECTOR]
    order = model.snapshot_.columns["account_id"].tolist()  # the model's order
    energy = feed(model, {"top_k": 5, "sectors": ["Energy"]})
    assert ids(energy) == [a for a in order if sector_of[a] == "Energy"][:5]
    two = ids(feed(model, {"top_k": 100, "sectors": ["Health", "Technology"]}))
    assert set(two) == {a for a in order if sector_of[a] in ("Health", "Technology")}
    assert {sector_of[a] for a in two} == {"Health", "Technology"}
    assert feed(model, {"sectors": ["Utilities"]})["investors"] == []  # no such investor: an empty feed


def test_with_sectors_no_sector_fills_more_than_40_percent_of_a_feed(world, predictor, baseline):
    sector_of = world.latest[MAIN_SECTOR]
    counts = pd.Series([sector_of[a] for a in ids(baseline)]).value_counts()
    assert len(ids(baseline)) == TOP_K and counts.max() <= 0.4 * TOP_K


# --- intraday adjustments ------------------------------------------------------------------------------


def test_registered_with_nothing_pushed_the_feed_is_as_before(world, predictor, store, baseline):
    model = make_transformer(world, predictor)
    result = feed(model, {"top_k": TOP_K})
    assert model.snapshot_.intraday is None
    assert result["investors"] == baseline["investors"]
    assert all(i[RETURN] is None and i[TRADES] is None for i in result["investors"])


def test_values_older_than_the_view_s_ttl_change_nothing(world, predictor, store, baseline):
    top = ids(baseline)[0]
    push(store, {top: {"intraday_equity": 0.0, "intraday_trades": 3.0}}, now() - pd.Timedelta(days=2))
    assert read_intraday(store, [top]).frame.empty
    assert feed(make_transformer(world, predictor), {"top_k": TOP_K})["investors"] == baseline["investors"]


def test_the_liquidated_leave_the_feed_and_the_day_is_shown_not_ranked(world, predictor, store, baseline):
    first, second, third, *_, lucky = ids(baseline)
    push(
        store,
        {
            first: {"intraday_equity": 0.0, "intraday_trades": 7.0, "intraday_return": -1.0},  # liquidated
            second: {"intraday_equity": -250.0, "intraday_trades": 2.0},  # blown up on margin
            third: {"intraday_equity": 12_000.0, "intraday_trades": 4.0, "intraday_return": 0.05},
            lucky: {"intraday_equity": 40_000.0, "intraday_trades": 1.0, "intraday_return": 3.0},
        },
        now(),
    )
    model = make_transformer(world, predictor)  # the build reads them
    result = feed(model, {"top_k": TOP_K})
    as_if_excluded = feed(model, {"top_k": TOP_K, "exclude_account_ids": [first, second]})
    assert first not in ids(result) and second not in ids(result)
    assert ids(result) == ids(as_if_excluded)  # only left out: the rest keeps the model's order
    assert [i["score"] for i in result["investors"]] == [i["score"] for i in as_if_excluded["investors"]]
    by_id = {i["account_id"]: i for i in result["investors"]}
    assert (by_id[third][RETURN], by_id[third][TRADES]) == (0.05, 4)
    assert (by_id[lucky][RETURN], by_id[lucky][TRADES]) == (3.0, 1)
    # Two left out above it move it up two places; a +300% day lifts it no further.
    assert ids(result).index(lucky) == ids(baseline).index(lucky) - 2
    quiet = [i for a, i in by_id.items() if a not in (third, lucky)]
    assert all(i[RETURN] is None and i[TRADES] is None for i in quiet)


def test_the_v2_reply_carries_the_day_s_fields(world, predictor, store):
    model = make_transformer(world, predictor)
    request = InferRequest("feed-1", [InferInput("top_k", [1], "INT32", data=[TOP_K])])
    reply = {o.name: o.as_numpy() for o in feed(model, request).outputs}
    returns, trades = reply[RETURN], reply[TRADES]
    assert returns.dtype == np.float64 and len(returns) == len(reply["account_id"]) == TOP_K
    assert np.isfinite(returns).sum() == 2 and np.nansum(trades) == 5.0  # the third (4) and the lucky one (1)


def test_a_poll_applies_a_new_push_without_rebuilding(world, predictor, store):
    model = make_transformer(world, predictor, serving_poll_seconds=0.05)
    built = model.snapshot_
    target = ids(feed(model, {"top_k": TOP_K}))[0]
    push(store, {target: {"intraday_equity": 0.0}}, now())
    assert watch_until(model, lambda: not followable(model, target))
    assert target not in ids(feed(model, {"top_k": TOP_K}))
    assert model.snapshot_.columns is built.columns and model.snapshot_.key == built.key  # not rebuilt
    push(store, {target: {"intraday_equity": 9_000.0}}, now())  # recovered: back in at its place
    assert watch_until(model, lambda: followable(model, target))
    assert ids(feed(model, {"top_k": TOP_K}))[0] == target


def test_a_failed_read_keeps_the_last_values_counts_and_never_fails_a_request(world, predictor, store):
    model = make_transformer(world, predictor, serving_poll_seconds=0.05)
    before = feed(model, {"top_k": TOP_K})
    kept = model.intraday_
    assert not kept.frame.empty
    unreachable = world.settings.model_copy(
        update={"online_store": "redis", "redis_connection_string": "127.0.0.1:1"}
    )
    model.store_ = feature_store(unreachable)  # the registry answers, the online store does not
    failed = fallbacks("online_store")
    assert watch_until(model, lambda: fallbacks("online_store") >= failed + 2)  # two polls, two failures
    assert model.intraday_ is kept
    assert feed(model, {"top_k": TOP_K})["investors"] == before["investors"]
    assert not model.snapshot_.degraded  # the feed itself is as fresh as it was


def test_alignment_follows_the_snapshot_s_rows():
    frame = pd.DataFrame(
        {"intraday_trades": [1.0, 5.0], "intraday_notional": [10.0, 50.0], "intraday_equity": [-1.0, 7.0]}
        | {"intraday_return": [np.nan, 0.2]},
        index=["x", "y"],
    )
    columns = align(IntradayValues(frame), np.array(["y", "z", "x"], dtype=object))
    assert columns.followable.tolist() == [True, True, False]
    assert [columns.shown(row) for row in range(3)] == [
        {RETURN: 0.2, TRADES: 5},
        {RETURN: None, TRADES: None},
        {RETURN: None, TRADES: 1},
    ]
