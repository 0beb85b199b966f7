"""The Discover feed: a KServe transformer that retrieves candidates, has the predictor rank them, explains.

``preprocess`` takes the retrieval index's candidates and their online features (the feed's Feast feature
service: the model's inputs and the scoring inputs, `components.config.feast.feed_service`), ``predict``
forwards the model's inputs to the predictor (``--predictor_host``), ``postprocess`` turns the raw scores
into the feed's order with `components.scoring.finalize.finalize_scores` (with the scoring constants of the
predictor's model version), then asks the predictor to explain the top K only and turns the largest feature
contributions into reasons (`components.scoring.explanations`). ``fdr_pass`` is Benjamini–Hochberg over the
request's candidates, not over the whole platform as in ``scores/``. Run it with
``python -m inference.transformer --model_name skillrank --predictor_host HOST:PORT``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import dataclass

import kserve
import numpy as np
import pandas as pd
from feast.errors import FeatureServiceNotFoundException
from kserve.errors import InferenceError, InvalidInput
from kserve.logging import logger
from kserve.predictor_config import PredictorConfig

from components.config.feast import feature_store, feed_service, input_service
from components.config.settings import Settings
from components.scoring.explanations import probability_reason, reasons
from components.scoring.finalize import ScoringConstants, finalize_scores
from feature_repo.definitions import service_features
from feature_repo.feature_schema import ENTITY_KEY, EVENT_TIMESTAMP
from inference.server import add_bind_host, model_server

MAX_TOP_K = 100
PREDICTOR_TIMEOUT_SECONDS = 10
FEATURE_STORE_TIMEOUT_SECONDS = 5
REQUEST_KEYS = {"top_k", "exclude_account_ids"}


@dataclass(frozen=True)
class FeedBatch:
    """The candidates of one feed request, with their online features, on their way to the predictor.

    ``feature_names`` are the model's inputs: what `instances` sends (the candidates hold more columns).
    """

    top_k: int
    candidates: pd.DataFrame
    feature_names: list[str]

    @property
    def instances(self) -> list[dict]:
        """v1 instances: one dict of features by name per candidate (missing values as null)."""
        values = self.candidates[self.feature_names].astype(object)
        return values.where(values.notna(), None).to_dict("records")


class RetrievalTransformer(kserve.Model):
    """Stage 1 retrieval and post-processing of the feed, in front of the ranking predictor.

    Args:
        name: Model name on the endpoint path (the predictor serves the same name).
        settings: Data root, online store, ``ranker_features`` (which services it reads) and feed settings.
    """

    def __init__(self, name: str, settings: Settings):
        super().__init__(name)
        self.settings = settings

    def load(self) -> bool:
        """Read the retrieval index and connect to the Feast online store (one read to check it)."""
        path = self.settings.layout.retrieval_index
        if not path.exists():
            raise RuntimeError(f"no retrieval index at {path}: publish the features first (skillrank run)")
        self.index_ = pd.read_parquet(path)
        as_of = self.index_[EVENT_TIMESTAMP].max()
        self.as_of_date_ = None if pd.isna(as_of) else str(pd.Timestamp(as_of).date())
        self.store_ = feature_store(self.settings)
        feed = feed_service(self.settings.ranker_features)
        try:
            self.feature_service_ = self.store_.get_feature_service(feed.name)
        except FeatureServiceNotFoundException as e:
            raise RuntimeError(
                f"feature service '{feed.name}' is not registered in Feast: publish the features first "
                "(skillrank run)"
            ) from e
        self.feature_names_ = service_features(self.feature_service_)  # what the feed reads
        self.input_names_ = service_features(input_service(self.settings.ranker_features))  # the model's
        self._online_features(self.index_[ENTITY_KEY].head(1).tolist())  # reach the store, warm its caches
        self.ready = True
        return self.ready

    async def preprocess(self, payload: dict | bytes, headers: dict[str, str] | None = None) -> FeedBatch:
        """Validate the request, take the candidates and fetch their online features."""
        logger.debug("feed request: %s", payload)
        top_k, excluded = parse_feed_request(payload, default_top_k=self.settings.top_k)
        ids = self.index_.loc[~self.index_[ENTITY_KEY].isin(excluded), ENTITY_KEY].tolist()
        features = await asyncio.wait_for(
            asyncio.to_thread(self._online_features, ids), FEATURE_STORE_TIMEOUT_SECONDS
        )
        found = features[self.feature_names_].notna().any(axis=1)
        if not found.all():
            logger.warning(
                "%d of %d candidates have no online features and are skipped", (~found).sum(), len(ids)
            )
        return FeedBatch(top_k, features[found].reset_index(drop=True), self.input_names_)

    async def predict(self, payload: FeedBatch, headers: dict[str, str] | None = None, response_headers=None):
        """Forward the candidates to the predictor; keep them with its reply for `postprocess`."""
        reply = await self.call_predictor({"instances": payload.instances}, headers, response_headers)
        return payload, reply

    async def postprocess(self, result: tuple[FeedBatch, dict], headers=None, response_headers=None) -> dict:
        """The top K candidates in the feed's order: score, confidence, status, luck tests and reasons."""
        batch, reply = result
        if len(reply.get("predictions", [])) != len(batch.candidates):
            raise InferenceError(
                f"predictor returned {len(reply.get('predictions', []))} scores "
                f"for {len(batch.candidates)} candidates"
            )
        try:
            constants = ScoringConstants.from_tags(reply.get("scoring_constants", {}))
        except ValueError as e:
            raise InferenceError(f"the predictor's reply has no usable scoring constants: {e}") from e
        ranked = finalize_scores(batch.candidates, reply["predictions"], constants=constants)
        ranked = ranked.head(batch.top_k)
        shown = FeedBatch(
            batch.top_k,
            batch.candidates.set_index(ENTITY_KEY).loc[ranked[ENTITY_KEY]].reset_index(),
            batch.feature_names,
        )
        contributions = await self._contributions(shown, headers)
        rows = zip(ranked.to_dict("records"), contributions, shown.candidates.to_dict("records"), strict=True)
        investors = [feed_entry(rank, *row) for rank, row in enumerate(rows, start=1)]
        return {
            "model_name": reply.get("model_name", self.name),
            "model_version": reply.get("model_version"),
            "as_of_date": self.as_of_date_,
            "candidates": len(batch.candidates),
            "investors": investors,
        }

    async def call_predictor(self, body: dict, headers=None, response_headers=None) -> dict:
        """One v1 call to the predictor at ``--predictor_host``."""
        return await super().predict(body, headers, response_headers)

    async def _contributions(self, shown: FeedBatch, headers) -> list[dict[str, float]]:
        """The predictor's largest feature contributions for each investor shown (one small second call)."""
        if shown.candidates.empty:
            return []
        reply = await self.call_predictor({"instances": shown.instances, "explain": True}, headers)
        contributions = reply.get("contributions", [])
        if len(contributions) != len(shown.candidates):
            raise InferenceError(
                f"predictor explained {len(contributions)} of the {len(shown.candidates)} investors shown"
            )
        return contributions

    def _online_features(self, account_ids: list[str]) -> pd.DataFrame:
        """One online read of the feature service for `account_ids`, in their order."""
        if not account_ids:
            return pd.DataFrame(columns=[ENTITY_KEY, *self.feature_names_])
        response = self.store_.get_online_features(
            features=self.feature_service_, entity_rows=[{ENTITY_KEY: a} for a in account_ids]
        )
        return response.to_df()


def parse_feed_request(payload: dict | bytes, *, default_top_k: int) -> tuple[int, list[str]]:
    """``top_k`` and ``exclude_account_ids`` of a request, plain or wrapped as ``{"instances": [{...}]}``.

    Raises:
        InvalidInput: The body is not such an object or a value is out of range (HTTP 400).

    Example:
        >>> parse_feed_request({"instances": [{"top_k": 5}]}, default_top_k=20)
        (5, [])
    """
    if isinstance(payload, bytes | str):
        try:
            payload = json.loads(payload or "{}")
        except ValueError as e:
            raise InvalidInput(f"the feed request must be a JSON object: {e}") from e
    if isinstance(payload, dict) and "instances" in payload:
        if not (isinstance(payload["instances"], list) and len(payload["instances"]) == 1):
            raise InvalidInput('"instances" must hold exactly one feed request object')
        payload = payload["instances"][0]
    if not isinstance(payload, dict):
        raise InvalidInput(
            'the feed request must be a JSON object like {"top_k": 20, "exclude_account_ids": []}'
        )
    unknown = sorted(set(payload) - REQUEST_KEYS)
    if unknown:
        raise InvalidInput(f"unknown keys {unknown} in the feed request; allowed: {sorted(REQUEST_KEYS)}")
    top_k = payload.get("top_k", default_top_k)
    if not isinstance(top_k, int) or isinstance(top_k, bool) or not 1 <= top_k <= MAX_TOP_K:
        raise InvalidInput(f"top_k must be an integer from 1 to {MAX_TOP_K}, got {top_k!r}")
    excluded = payload.get("exclude_account_ids", [])
    if not isinstance(excluded, list) or not all(isinstance(a, str) for a in excluded):
        raise InvalidInput("exclude_account_ids must be a list of account id strings")
    return top_k, excluded


def feed_entry(rank: int, scored: dict, contributions: dict[str, float], features: dict) -> dict:
    """One investor of the feed: a row of `finalize_scores`, its contributions and its features."""
    probability = scored["probability_of_skill"]
    return {
        "rank": rank,
        "account_id": scored[ENTITY_KEY],
        "score": float(scored["score"]),
        "confidence": float(scored["confidence"]),
        "status": scored["status"],
        "probability_of_skill": None if np.isnan(probability) else float(probability),
        "fdr_pass": bool(scored["fdr_pass"]),
        "reasons": investor_reasons(contributions, features, probability),
    }


def investor_reasons(contributions: dict[str, float], features: dict, probability: float) -> list[str]:
    """What moved an investor's score most, then its probability of skill (when its record allows one).

    Example:
        >>> investor_reasons({"hhi": -0.01, "n_tickers": 0.0}, {"hhi": 0.95, "n_tickers": 1.0}, 0.874)
        ['concentrated in 1 stock lowered the score', 'probability of skill 87%']
    """
    probability_text = probability_reason(probability)
    return reasons(contributions, features) + ([probability_text] if probability_text else [])


def build_parser() -> argparse.ArgumentParser:
    """KServe's shared server flags (``--predictor_host`` among them) plus ``--bind_host``."""
    parser = argparse.ArgumentParser(
        prog="python -m inference.transformer",
        description=__doc__.splitlines()[0],
        parents=[kserve.model_server.parser],
        epilog="Settings come from SKILLRANK_* environment variables; they supply the default of "
        f"--model_name. --predictor_request_timeout_seconds defaults to {PREDICTOR_TIMEOUT_SECONDS} here.",
    )
    add_bind_host(parser)
    return parser


def main(argv: list[str] | None = None) -> None:
    """Load the index and the feature store and serve the feed until the process is stopped."""
    settings = Settings.load()
    defaults = argparse.Namespace(
        model_name=settings.model_name, predictor_request_timeout_seconds=PREDICTOR_TIMEOUT_SECONDS
    )
    parser = build_parser()
    args = parser.parse_args(argv, namespace=defaults)
    if not args.predictor_host:
        parser.error("--predictor_host is required (host:port of the ranking predictor)")
    if args.predictor_protocol != "v1":
        parser.error("the transformer talks v1 to the predictor: --predictor_protocol must be v1")
    config = PredictorConfig(
        predictor_host=args.predictor_host,
        predictor_protocol=args.predictor_protocol,
        predictor_use_ssl=args.predictor_use_ssl,
        predictor_request_timeout_seconds=args.predictor_request_timeout_seconds,
        predictor_request_retries=args.predictor_request_retries,
        predictor_health_check=args.enable_predictor_health_check,
    )
    model = RetrievalTransformer(args.model_name, settings)
    model.load()
    model_server(args, predictor_config=config).start([model])


if __name__ == "__main__":
    main()
