"""The Discover feed: a KServe transformer serving precomputed scores, refreshed when their inputs change.

What changes slowly is computed ahead, off the request path: the retrieval index's candidates, their
online features (the feed's Feast feature service, `components.config.feast.feed_service`, plus the
fields the filters and the control arm read), the predictor's scores and contributions in v2 calls,
`components.scoring.finalize.finalize_scores` and the reasons (`components.scoring.explanations`) make
one `inference.snapshot.FeedSnapshot`. A request only picks its viewer's A/B arm
(`inference.experiment`), filters and cuts the snapshot, and appends the feed to the prediction log
(`inference.prediction_log`): no I/O, a fraction of a millisecond. At each build and each poll the
candidates' fresh intraday features are read too (`inference.intraday`): a request leaves out who was
liquidated today and shows the day's return and trades, without re-ranking by them.

Every ``--poll_seconds`` the transformer asks the predictor which model version it serves and looks at
the retrieval index and the feature view's last materialisation; when one changed (or on ``POST
/v2/repository/models/<name>/load``) it builds a new snapshot beside the old one and swaps it in. When
the build fails (the predictor down or slow, the online store unreachable) the last good snapshot keeps
serving, marked ``degraded``; a transformer that starts in that state serves the score cache's snapshot
(Redis, ``score_cache: redis``); with neither, the heuristic ranking, flagged. ``fdr_pass`` uses the
Benjamini–Hochberg cut-off stored with the model, as ``scores/`` does. Run it with
``python -m inference.transformer --model_name skillrank --predictor_host HOST:PORT``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
import threading
import time
import uuid
from typing import NamedTuple

import kserve
import numpy as np
import pandas as pd
from feast.errors import FeatureServiceNotFoundException
from kserve.errors import InferenceError, InvalidInput
from kserve.inference_client import InferenceRESTClient, RESTConfig
from kserve.protocol.infer_type import InferInput, InferOutput, InferRequest, InferResponse, RequestedOutput

from components.config.feast import feature_store, feed_service, input_service
from components.config.settings import Settings
from components.console import configure_logging
from components.scoring.finalize import ScoringConstants
from feature_repo.definitions import account_monthly_features, service_features
from feature_repo.feature_schema import ENTITY_KEY, EVENT_TIMESTAMP
from inference import metrics
from inference.cache import ScoreCache, redis_client
from inference.experiment import assign_arm
from inference.feed_request import FeedRequest, parse_v1, parse_v2
from inference.intraday import READ_TIMEOUT_SECONDS, RETURN, TRADES, IntradayValues, read_intraday
from inference.prediction_log import FeedRecord, PredictionLog
from inference.server import add_server_flags, check_deadline, load_or_wait, model_server
from inference.snapshot import FILTER_FEATURES, SECTOR, FeedSnapshot, build_snapshot, heuristic_snapshot

logger = logging.getLogger(__name__)
SWITCH_INTERVAL_SECONDS = 0.001

PREDICTOR_TIMEOUT_SECONDS = 10
FEATURE_STORE_TIMEOUT_SECONDS = 30
FEATURE_CHUNK = 250  # entities per online read: the read stops within one chunk when abandoned
CONTRIBUTION_CHUNK = (
    200  # rows per contributions call (about 30 predictions each): the predictor stays responsive
)
V2_INPUT, V2_OUTPUT, V2_CONTRIBUTIONS = "features", "predictions", "contributions"


class OnlineStoreEmpty(RuntimeError):
    """The online store answered, but with no features for any candidate (flushed, or not materialised)."""


class FeedCall(NamedTuple):
    """One feed request between the stages of `kserve.Model`: what was asked, and how to answer."""

    request: FeedRequest
    request_id: str
    v2: bool
    v2_id: str | None = None


class Feed(NamedTuple):
    """One feed, chosen from one snapshot."""

    call: FeedCall
    arm: str
    snapshot: FeedSnapshot
    rows: np.ndarray


class RetrievalTransformer(kserve.Model):
    """Stage 1 retrieval and post-processing of the feed, in front of the ranking predictor.

    Args:
        name: Model name on the endpoint path (the predictor serves the same name).
        settings: Data root, online store, ``ranker_features``, the A/B split, the cache and the log.
        predictor_url: Base URL of the predictor (``http://host:port``); None: `call_predictor` is
            given by the caller (tests).
        predictor_timeout: Seconds a predictor call may take.
        poll_seconds: How often to look for a change (None: the settings' ``serving_poll_seconds``).
    """

    def __init__(
        self,
        name: str,
        settings: Settings,
        predictor_url: str | None = None,
        predictor_timeout: float = PREDICTOR_TIMEOUT_SECONDS,
        poll_seconds: float | None = None,
    ):
        super().__init__(name)
        self.settings = settings
        self.predictor_url = predictor_url
        self.predictor_timeout = predictor_timeout
        self.poll_seconds = settings.serving_poll_seconds if poll_seconds is None else poll_seconds
        self.intraday_ = IntradayValues()  # the last good intraday read
        self._tasks: list[asyncio.Task] = []

    # --- lifecycle -------------------------------------------------------------------------------

    def load(self) -> bool:
        """Connect to the online store and build the first snapshot (or restore the cached one)."""
        self._connect()
        loop = asyncio.new_event_loop()  # not asyncio.run: it would leave no event loop for KServe's server
        try:
            snapshot = loop.run_until_complete(self._build_once())
        except Exception as e:
            snapshot = self.cache_.load() if self.cache_ is not None else None
            if snapshot is None:  # no model has scored a feed yet: the heuristic, flagged, if it can be read
                snapshot = self._heuristic_or_none(loop)
            if snapshot is None:
                raise RuntimeError(
                    f"cannot build the feed ({e}) and no cached feed is configured or saved"
                ) from e
            metrics.FALLBACKS.labels(failure_cause(e)).inc()
            logger.warning(
                "serving the cached feed of %s: building one failed: %s", snapshot.model_version, e
            )
        else:
            if self.cache_ is not None:
                self.cache_.save(snapshot)
        finally:
            loop.close()
        self._swap(snapshot)
        self.ready = True
        return self.ready

    def _heuristic_or_none(self, loop: asyncio.AbstractEventLoop) -> FeedSnapshot | None:
        """The heuristic feed, or None when even the candidates cannot be read (no index, no store)."""
        try:
            return loop.run_until_complete(self._build_heuristic())
        except Exception as e:
            logger.warning("cannot serve the heuristic feed either: %s", e)
            return None

    async def reload(self) -> str | None:
        """Build a snapshot now and swap it in (``POST .../load``); returns the model version it serves.

        Raises:
            Exception: The build failed (the last snapshot keeps serving, marked degraded).
        """
        await self._refresh(raise_errors=True)
        return self.snapshot_.model_version

    async def healthy(self) -> bool:
        self._start_background()
        return self.ready

    def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        if getattr(self, "log_", None) is not None:
            self.log_.close()
        super().stop()

    # --- one request -----------------------------------------------------------------------------

    async def preprocess(self, payload: dict | bytes | InferRequest, headers: dict[str, str] | None = None):
        """Check the request (v1 body or v2 tensors) and the deadline."""
        check_deadline(headers, "preprocess")
        self._start_background()
        logger.debug("feed request: %s", payload)
        request_id = (headers or {}).get("x-request-id") or uuid.uuid4().hex
        top_k = self.settings.top_k
        if isinstance(payload, InferRequest):
            return FeedCall(parse_v2(payload, default_top_k=top_k), request_id, True, payload.id)
        return FeedCall(parse_v1(payload, default_top_k=top_k), request_id, False)

    async def predict(
        self, payload: FeedCall, headers: dict[str, str] | None = None, response_headers=None
    ) -> Feed:
        """The viewer's arm, and the snapshot's investors that pass the filters, best first."""
        snapshot = self.snapshot_  # one read: a swap mid-request does not mix two snapshots
        arm = assign_arm(payload.request.viewer_id, self.settings.ab_salt, self.settings.ab_treatment_share)
        try:
            rows = snapshot.select(payload.request, arm)
        except ValueError as e:
            raise InvalidInput(str(e)) from e
        return Feed(payload, arm, snapshot, rows)

    async def postprocess(self, result: Feed, headers=None, response_headers=None) -> dict | InferResponse:
        """The feed's reply (v1 JSON or v2 tensors); the feed goes to the prediction log."""
        call, arm, snapshot, _ = result
        investors = snapshot.entries(result.rows, arm)
        self.log_.append(
            FeedRecord(
                call.request_id,
                call.request.viewer_id,
                arm,
                snapshot.model_version,
                snapshot.as_of_date,
                time.time(),
                snapshot.degraded,
                [i["account_id"] for i in investors],
                [i["score"] for i in investors],
            )
        )
        metrics.FEEDS.labels(arm, str(snapshot.degraded).lower()).inc()
        header = {
            "request_id": call.request_id,
            "model_name": self.name,
            "model_version": snapshot.model_version,
            "as_of_date": snapshot.as_of_date,
            "arm": arm,
            "ranking": snapshot.ranking_of(arm),
            "degraded": snapshot.degraded,
            "candidates": len(snapshot),
        }
        if call.v2:
            return v2_reply(call, header, investors)
        return header | {"investors": investors}

    # --- building snapshots ----------------------------------------------------------------------

    async def call_predictor(self, request: InferRequest) -> InferResponse:
        """One v2 call to the predictor through KServe's REST client (one client per event loop)."""
        if self.predictor_url is None:
            raise InferenceError("no predictor: pass --predictor_host")
        loop = asyncio.get_running_loop()
        if getattr(self, "_client", None) is None or self._client_loop not in (None, loop):
            self._client = new_rest_client(self.predictor_timeout)
        self._client_loop = loop
        return await self._client.infer(self.predictor_url, request, model_name=self.name)

    def _connect(self) -> None:
        self._open_sinks()
        self._open_store()

    def _open_sinks(self) -> None:
        """The score cache and the prediction log: what the feed writes to, which needs no model."""
        redis = None
        if self.settings.score_cache == "redis" or self.settings.prediction_log_stream:
            redis = redis_client(self.settings.redis_connection_string)
        self.cache_ = ScoreCache(redis, self.name) if self.settings.score_cache == "redis" else None
        self.log_ = PredictionLog(
            self.settings.layout.prediction_log,
            self.settings.prediction_log_roll_seconds,
            redis=redis,
            stream=self.settings.prediction_log_stream,
        )

    def _open_store(self) -> None:
        """The Feast store, once the feed's feature service is registered in it (a first run publishes it)."""
        store = feature_store(self.settings)
        feed = feed_service(self.settings.ranker_features)
        try:
            store.get_feature_service(feed.name)
        except FeatureServiceNotFoundException as e:
            raise RuntimeError(
                f"feature service '{feed.name}' is not registered in Feast: publish the features first "
                "(skillrank run)"
            ) from e
        self.input_names_ = service_features(input_service(self.settings.ranker_features))
        read = dict.fromkeys([*service_features(feed), *FILTER_FEATURES])
        self.feature_refs_ = [f"{account_monthly_features.name}:{name}" for name in read]
        self.store_ = store

    async def _build_once(self) -> FeedSnapshot:
        """`_build` in an event loop of its own, closing the predictor client it made there."""
        try:
            return await self._build()
        finally:
            if getattr(self, "_client", None) is not None:
                await self._client.close()
            # The server's event loop gets a client made now, out of its way: one costs tens of
            # milliseconds to make (its TLS context), which would stall the requests of the moment.
            self._client, self._client_loop = new_rest_client(self.predictor_timeout), None

    async def _candidates(self) -> tuple[pd.DataFrame, str | None, tuple]:
        """The retrieval index's candidates with their online features, its as-of date and stamp."""
        if getattr(self, "store_", None) is None:  # started before the first run published (or a worker)
            await asyncio.to_thread(self._open_store)
        index, stamp = await asyncio.to_thread(self._read_index)
        with metrics.SNAPSHOT_SECONDS.labels("features").time():
            candidates = await self._online_features(index)
        as_of = index[EVENT_TIMESTAMP].max() if len(index) else None
        as_of_date = None if as_of is None or pd.isna(as_of) else str(pd.Timestamp(as_of).date())
        return candidates, as_of_date, stamp

    async def _build_heuristic(self) -> FeedSnapshot:
        """The feed without a model (`inference.snapshot.heuristic_snapshot`), degraded until one scores."""
        candidates, as_of_date, stamp = await self._candidates()
        key = (None, stamp, await asyncio.to_thread(self._materialized_at))
        snapshot = heuristic_snapshot(
            candidates,
            min_track_record_days=self.settings.min_track_record_days,
            as_of_date=as_of_date,
            key=key,
        )
        logger.warning(
            "no model can score the feed: serving the heuristic ranking of %d candidates", len(snapshot)
        )
        return snapshot.with_intraday(await self._read_intraday(snapshot.columns[ENTITY_KEY])).mark_degraded()

    async def _build(self) -> FeedSnapshot:
        """A new snapshot: index, online features, the predictor's scores and contributions, finalize."""
        started = time.perf_counter()
        candidates, as_of_date, stamp = await self._candidates()
        with metrics.SNAPSHOT_SECONDS.labels("predictor").time():
            scores, contributions, version, constants = await self._score(candidates[self.input_names_])
        key = (version, stamp, await asyncio.to_thread(self._materialized_at))
        with metrics.SNAPSHOT_SECONDS.labels("finalize").time():
            snapshot = await asyncio.to_thread(
                build_snapshot,
                candidates,
                scores,
                contributions,
                self.input_names_,
                constants,
                model_version=version,
                as_of_date=as_of_date,
                key=key,
            )
        with metrics.SNAPSHOT_SECONDS.labels("intraday").time():
            snapshot = snapshot.with_intraday(await self._read_intraday(snapshot.columns[ENTITY_KEY]))
        metrics.SNAPSHOT_SECONDS.labels("total").observe(time.perf_counter() - started)
        logger.info(
            "feed snapshot: %d candidates, model version %s, as of %s", len(snapshot), version, as_of_date
        )
        return snapshot

    def _read_index(self) -> tuple[pd.DataFrame, tuple]:
        path = self.settings.layout.retrieval_index
        if not path.exists():
            raise RuntimeError(f"no retrieval index at {path}: publish the features first (skillrank run)")
        stat = path.stat()
        return pd.read_parquet(path), (stat.st_mtime_ns, stat.st_size)

    def _materialized_at(self) -> str | None:
        """When the feature view was last materialised (a change means new online features)."""
        try:
            view = self.store_.registry.get_feature_view(
                account_monthly_features.name, self.store_.project, allow_cache=False
            )
        except Exception as e:  # the registry is unreachable: this check says nothing
            logger.debug("cannot read the feature view's materialisation: %s", e)
            return None
        end = view.most_recent_end_time
        return None if end is None else end.isoformat()

    async def _online_features(self, index: pd.DataFrame) -> pd.DataFrame:
        """The candidates' online features, in index order; candidates without any are skipped."""
        ids = index[ENTITY_KEY].tolist()
        abandoned = threading.Event()
        try:
            features = await asyncio.wait_for(
                asyncio.to_thread(self._read_features, ids, abandoned), FEATURE_STORE_TIMEOUT_SECONDS
            )
        finally:
            abandoned.set()  # on a timeout or a cancel, the read stops at its next chunk
        names = [ref.split(":", 1)[1] for ref in self.feature_refs_]
        found = features[names].notna().any(axis=1)
        if ids and not found.any():
            raise OnlineStoreEmpty(f"the online store has no features for any of the {len(ids)} candidates")
        if not found.all():
            logger.warning(
                "%d of %d candidates have no online features and are skipped", (~found).sum(), len(ids)
            )
        features = features[found].reset_index(drop=True)
        if SECTOR in index:
            features = features.merge(index[[ENTITY_KEY, SECTOR]], on=ENTITY_KEY, how="left")
        return features

    def _read_features(self, account_ids: list[str], abandoned: threading.Event) -> pd.DataFrame:
        names = [ref.split(":", 1)[1] for ref in self.feature_refs_]
        frames = []
        for start in range(0, len(account_ids), FEATURE_CHUNK):
            chunk = account_ids[start : start + FEATURE_CHUNK]
            if abandoned.is_set():
                raise TimeoutError("the online read was abandoned")
            response = self.store_.get_online_features(
                features=self.feature_refs_, entity_rows=[{ENTITY_KEY: a} for a in chunk]
            )
            frames.append(response.to_df())
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[ENTITY_KEY, *names])

    async def _read_intraday(self, account_ids: np.ndarray) -> IntradayValues:
        """The candidates' fresh intraday features in one read off the request path; when the read
        fails, the last ones (counted): a failed read never fails a build or a request."""
        try:
            self.intraday_ = await asyncio.wait_for(
                asyncio.to_thread(read_intraday, self.store_, account_ids.tolist()), READ_TIMEOUT_SECONDS
            )
        except Exception as e:
            metrics.INTRADAY_FALLBACKS.labels(failure_cause(e)).inc()
            logger.warning("the feed keeps the intraday values read at %s: %s", self.intraday_.read_at, e)
        return self.intraday_

    async def _refresh_intraday(self) -> None:
        """Apply a new intraday read to the served snapshot (a poll that rebuilds nothing)."""
        snapshot = self.snapshot_
        values = await self._read_intraday(snapshot.columns[ENTITY_KEY])
        if self.snapshot_ is snapshot:  # else one built or marked meanwhile: the next poll applies them
            self.snapshot_ = snapshot.with_intraday(values)

    async def _score(self, inputs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, str, ScoringConstants]:
        """The predictor's scores (one call) and contributions (calls of `CONTRIBUTION_CHUNK` rows)."""
        matrix = inputs.to_numpy(dtype=np.float64)
        reply = await self.call_predictor(v2_request(matrix, V2_OUTPUT))
        scores = output_array(reply, V2_OUTPUT, len(matrix))
        version, constants = model_of(reply)
        parts = [np.empty((0, len(self.input_names_)))]
        for start in range(0, len(matrix), CONTRIBUTION_CHUNK):
            chunk = matrix[start : start + CONTRIBUTION_CHUNK]
            part = await self.call_predictor(v2_request(chunk, V2_CONTRIBUTIONS))
            parts.append(output_array(part, V2_CONTRIBUTIONS, len(chunk)).reshape(len(chunk), -1))
            if model_of(part)[0] != version:
                raise InferenceError(
                    f"the predictor changed model version mid-build ({version} -> {model_of(part)[0]})"
                )
        return scores, np.concatenate(parts), version, constants

    async def _predictor_version(self) -> str:
        """The model version the predictor serves, from an empty v2 call."""
        reply = await self.call_predictor(v2_request(np.empty((0, len(self.input_names_))), V2_OUTPUT))
        return model_of(reply)[0]

    async def _refresh(self, raise_errors: bool = False) -> bool:
        """Build and swap in a new snapshot; on failure keep the last one, marked degraded.

        Returns:
            Whether a new snapshot is served.
        """
        try:
            snapshot = await self._build()
        except Exception as e:
            cause = failure_cause(e)
            metrics.FALLBACKS.labels(cause).inc()
            metrics.RELOADS.labels(self.name, "failed").inc()
            self._mark_degraded()
            logger.warning("the feed keeps its last snapshot (%s): %s", cause, e)
            if raise_errors:
                raise
            return False
        self._swap(snapshot)
        metrics.RELOADS.labels(self.name, "reloaded").inc()
        if self.cache_ is not None:
            await asyncio.to_thread(self.cache_.save, snapshot)
        return True

    def _swap(self, snapshot: FeedSnapshot) -> None:
        self.snapshot_ = snapshot  # one assignment: each request reads one snapshot
        self.ready = True  # a transformer that started without a feed (`load_or_wait`) is ready now
        metrics.SNAPSHOT_AGE.set(snapshot.built_at)
        # Long-lived snapshot objects out of the cyclic collector's way: its passes stay short.
        gc.collect()
        gc.freeze()

    async def _watch(self) -> None:
        """Every `poll_seconds`: rebuild when the model, the index or the features changed, or degraded;
        else read the day's intraday features anew (a build reads them itself)."""
        while True:
            await asyncio.sleep(self.poll_seconds)
            if getattr(self, "snapshot_", None) is None:  # nothing served yet: try the first feed again
                await self._refresh()
                continue
            try:
                version = await self._predictor_version()
                index_stamp = await asyncio.to_thread(self._index_stamp)
                materialized = await asyncio.to_thread(self._materialized_at)
            except Exception as e:  # the predictor or the index is gone: the feed is served as it was
                metrics.FALLBACKS.labels(failure_cause(e)).inc()
                self._mark_degraded()
                logger.warning("cannot check the model, index and features; the feed is degraded: %s", e)
                await self._refresh_intraday()
                continue
            snapshot = self.snapshot_
            changed = snapshot.degraded or (version, index_stamp, materialized) != snapshot.key
            if not (changed and await self._refresh()):
                await self._refresh_intraday()

    def _mark_degraded(self) -> None:
        """Keep serving the last snapshot, marked degraded (nothing to mark before the first one)."""
        if getattr(self, "snapshot_", None) is not None:
            self.snapshot_ = self.snapshot_.mark_degraded()

    def _index_stamp(self) -> tuple:
        stat = self.settings.layout.retrieval_index.stat()
        return (stat.st_mtime_ns, stat.st_size)

    def _start_background(self) -> None:
        """The change watch and the log writer, in the running event loop (in each worker), once."""
        self.log_.start()
        if self.poll_seconds > 0 and all(task.done() for task in self._tasks):
            self._tasks = [asyncio.get_running_loop().create_task(self._watch())]

    def __getstate__(self) -> dict:
        # A worker process rebuilds its clients; the snapshot and the settings travel.
        skip = ("_tasks", "store_", "cache_", "log_", "_client", "_client_loop")
        return {key: value for key, value in self.__dict__.items() if key not in skip}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._tasks = []
        self._client, self._client_loop = new_rest_client(self.predictor_timeout), None
        self._open_sinks()
        if "feature_refs_" in state:
            self._open_store()


def new_rest_client(timeout: float) -> InferenceRESTClient:
    """KServe's REST client of the predictor's v2 protocol, without retries (a failed build falls back)."""
    return InferenceRESTClient(RESTConfig(protocol="v2", timeout=timeout, retries=0))


def v2_request(matrix: np.ndarray, output: str) -> InferRequest:
    """A v2 request of feature rows asking for one output.

    The rows go as a binary tensor: a missing feature is a NaN, which JSON cannot carry (it would
    arrive as null), and the bytes are cheaper to write and to read than a list of floats. No rows (the
    version probe) go as an empty JSON list: KServe's client sends an empty binary tensor as no data.
    """
    tensor = InferInput(V2_INPUT, list(matrix.shape), "FP64", data=[])
    if matrix.size:
        tensor.set_data_from_numpy(np.ascontiguousarray(matrix, dtype=np.float64), binary_data=True)
    return InferRequest("", [tensor], request_id=uuid.uuid4().hex, request_outputs=[RequestedOutput(output)])


def output_array(reply: InferResponse, name: str, rows: int) -> np.ndarray:
    """The output `name` of a predictor reply as floats, checked to hold `rows` rows.

    Raises:
        InferenceError: The output is missing or of another length.
    """
    output = reply.get_output_by_name(name)
    if output is None:
        raise InferenceError(f"the predictor's reply has no {name} output")
    values = np.asarray(output.as_numpy(), dtype=np.float64)
    if len(values) != rows:
        raise InferenceError(f"the predictor returned {len(values)} rows of {name} for {rows} candidates")
    return values


def model_of(reply: InferResponse) -> tuple[str, ScoringConstants]:
    """The model version and scoring constants a predictor reply carries in its parameters.

    Raises:
        InferenceError: They are missing or unusable.
    """
    parameters = dict(reply.parameters or {})
    try:
        return str(parameters["model_version"]), ScoringConstants.from_tags(parameters)
    except (KeyError, ValueError) as e:
        raise InferenceError(
            f"the predictor's reply has no usable model version and scoring constants: {e}"
        ) from e


def v2_reply(call: FeedCall, header: dict, investors: list[dict]) -> InferResponse:
    """The feed as v2 tensors, one per field of an investor; the request's fields as parameters."""
    columns = {
        "account_id": ("BYTES", np.array([i["account_id"] for i in investors], dtype=object)),
        "rank": ("INT32", np.array([i["rank"] for i in investors], dtype=np.int32)),
        "score": ("FP64", nullable_floats(investors, "score")),
        "confidence": ("FP64", np.array([i["confidence"] for i in investors], dtype=np.float64)),
        "status": ("BYTES", np.array([i["status"] for i in investors], dtype=object)),
        "probability_of_skill": ("FP64", nullable_floats(investors, "probability_of_skill")),
        "fdr_pass": ("BOOL", np.array([i["fdr_pass"] for i in investors], dtype=bool)),
        "reasons": ("BYTES", np.array(["; ".join(i["reasons"]) for i in investors], dtype=object)),
        RETURN: ("FP64", nullable_floats(investors, RETURN)),
        TRADES: ("FP64", nullable_floats(investors, TRADES)),
    }
    outputs = [
        InferOutput(name, [len(investors)], datatype, data=data) for name, (datatype, data) in columns.items()
    ]
    parameters = {key: value for key, value in header.items() if value is not None and key != "model_name"}
    return InferResponse(
        call.v2_id or call.request_id,
        header["model_name"],
        outputs,
        model_version=header["model_version"],
        parameters=parameters,
    )


def nullable_floats(investors: list[dict], name: str) -> np.ndarray:
    """The field `name` of every investor as FP64, a null as NaN."""
    return np.array([np.nan if i[name] is None else i[name] for i in investors], dtype=np.float64)


def failure_cause(error: BaseException) -> str:
    """The cause of a failed build, for the fallback counter: predictor, online_store, timeout or other."""
    if isinstance(error, TimeoutError | asyncio.TimeoutError):
        return "timeout"
    module = type(error).__module__
    if isinstance(error, InferenceError) or module.startswith(("httpx", "httpcore")):
        return "predictor"
    if module.startswith(("feast", "sqlite3", "redis")) or isinstance(error, OSError | OnlineStoreEmpty):
        return "online_store"
    return "other"


def build_parser() -> argparse.ArgumentParser:
    """KServe's shared server flags (``--predictor_host`` among them) plus the servers' own."""
    parser = argparse.ArgumentParser(
        prog="python -m inference.transformer",
        description=__doc__.splitlines()[0],
        parents=[kserve.model_server.parser],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog="Settings come from SKILLRANK_* environment variables; they supply the default of "
        "--model_name and --poll_seconds. The transformer talks v2 to the predictor.",
    )
    parser.add_argument(
        "--poll_seconds", type=float, help="How often to look for a new model, index or features"
    )
    add_server_flags(parser)
    parser.set_defaults(predictor_request_timeout_seconds=PREDICTOR_TIMEOUT_SECONDS)
    return parser


def main(argv: list[str] | None = None) -> None:
    """Build the first snapshot and serve the feed until the process is stopped."""
    # The background reads (the snapshot's rebuild, each poll's intraday read) run in threads that would
    # hold the GIL for Python's default 5 ms slices while a request waits; 1 ms slices keep requests'
    # tail latency short at a small cost in the reads' own time.
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    settings = Settings.load()
    defaults = argparse.Namespace(model_name=settings.model_name, poll_seconds=settings.serving_poll_seconds)
    parser = build_parser()
    args = parser.parse_args(argv, namespace=defaults)
    if not args.predictor_host:
        parser.error("--predictor_host is required (host:port of the ranking predictor)")
    configure_logging(args.log_level)
    scheme = "https" if args.predictor_use_ssl else "http"
    model = RetrievalTransformer(
        args.model_name,
        settings,
        predictor_url=f"{scheme}://{args.predictor_host}",
        predictor_timeout=args.predictor_request_timeout_seconds,
        poll_seconds=args.poll_seconds,
    )
    load_or_wait(model, args.wait_for_model, args.poll_seconds)
    server = model_server(
        args, deadline_seconds=settings.feed_deadline_seconds, max_in_flight=settings.feed_max_in_flight
    )
    server.start([model])


if __name__ == "__main__":
    main()
