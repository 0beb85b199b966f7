"""Stage 2 of the feed: a KServe predictor scoring candidates with the MLflow champion (a LightGBM Booster).

Its reply carries the model version's scoring constants (`components.scoring.finalize.ScoringConstants`,
read from the version's tags), so the transformer finalizes scores with the numbers batch scoring used.
A v2 request that asks for the ``contributions`` output gets each row's feature contributions (SHAP
values) in the same call; a v1 body with ``"explain": true`` gets each row's largest ones.

Scores come from the booster compiled to native code (`inference.forest`); the served version is
checked against the registry every ``--poll_seconds`` (and on ``POST /v2/repository/models/<name>/load``),
and a new champion is loaded beside the old one and swapped in at once: a request in flight finishes
on the version it started with.

Run it with ``python -m inference.predictor --model_name skillrank``; ``--help`` lists every flag.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import re
import uuid
from dataclasses import dataclass, field

import kserve
import lightgbm as lgb
import mlflow
import numpy as np
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse
from kserve.utils.utils import get_predict_response
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from components.config import registry
from components.config.settings import Settings
from components.console import configure_logging
from components.errors import DataError
from components.scoring.finalize import ScoringConstants
from inference import metrics
from inference.forest import Forest
from inference.server import add_server_flags, load_or_wait, model_server

logger = logging.getLogger(__name__)

V2_INPUT = "features"
V2_OUTPUT = "predictions"
V2_CONTRIBUTIONS = "contributions"
V2_OUTPUTS = (V2_OUTPUT, V2_CONTRIBUTIONS)
NUMERIC_DATATYPES = {"BOOL", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"}
NUMERIC_DATATYPES |= {"FP16", "FP32", "FP64"}
TOP_CONTRIBUTIONS = 3  # features per row in an explained v1 reply, largest absolute contribution first
_MODEL_URI = re.compile(r"^models:/(?P<name>[^/@]+)(@(?P<alias>[^/@]+)|/(?P<version>\d+))$")


@dataclass(frozen=True)
class ServedModel:
    """One loaded model version: what a request reads, all at once, from the attribute that holds it."""

    version: str
    forest: Forest
    constants: ScoringConstants
    feature_names: list[str]
    scoring_constants: dict = field(init=False)  # the constants by tag name, as every reply carries them
    parameters: dict = field(init=False)  # a v2 reply's: the constants, the version and the features' order

    def __post_init__(self):
        object.__setattr__(self, "scoring_constants", self.constants.to_dict())
        object.__setattr__(
            self,
            "parameters",
            self.scoring_constants
            | {"model_version": self.version, "feature_names": ",".join(self.feature_names)},
        )


class RankingPredictor(kserve.Model):
    """Raw ranking scores of feature rows, from a registered model version, reloaded when it changes.

    Args:
        name: Model name on the endpoint path (the transformer calls the same name).
        model_uri: ``models:/<name>@<alias>`` or ``models:/<name>/<version>``.
        tracking_uri: MLflow tracking (and registry) URI.
        poll_seconds: How often to check which version the URI names (0: only on `reload`).
        compile: Score with the booster compiled to native code (`inference.forest`).
    """

    def __init__(
        self, name: str, model_uri: str, tracking_uri: str, poll_seconds: float = 0.0, compile: bool = True
    ):
        super().__init__(name)
        self.model_uri = model_uri
        self.tracking_uri = tracking_uri
        self.poll_seconds = poll_seconds
        self.compile = compile
        self._watcher: asyncio.Task | None = None

    def load(self) -> bool:
        """Resolve the URI to one model version, load its Booster and its scoring constants."""
        self.served_ = self._load(self._resolve())
        self.ready = True
        return self.ready

    async def reload(self) -> str:
        """Load the version the URI names now, if it is not the one served, and swap it in; returns it.

        The first successful reload of a predictor that started without a model makes it ready.
        """
        version = await asyncio.to_thread(self._resolve)
        served = getattr(self, "served_", None)
        if served is None or str(version.version) != served.version:
            served = await asyncio.to_thread(self._load, version)
            self.served_ = served  # one assignment: a request sees the old model or the new one
            self.ready = True
            metrics.RELOADS.labels(self.name, "reloaded").inc()
        return self.served_.version

    @property
    def served_version(self) -> str:
        return self.served_.version

    async def healthy(self) -> bool:
        self._watch_in_background()
        return self.ready

    def predict(
        self, payload: dict | InferRequest, headers: dict[str, str] | None = None
    ) -> dict | InferResponse:
        """Score v1 ``{"instances": [...], "explain": false}`` or a v2 request.

        v1 instances are dicts by feature name or lists in feature order. An explained v1 reply adds
        ``contributions``: one ``{feature: contribution}`` per row, its `TOP_CONTRIBUTIONS` largest.
        """
        self._watch_in_background()
        served = self.served_
        if isinstance(payload, InferRequest):
            return self._predict_v2(payload, served)
        features, explain = v1_features(payload, served.feature_names)
        reply = get_predict_response(payload, served.forest.predict(features), self.name)
        reply |= {
            "model_name": self.name,
            "model_version": served.version,
            "scoring_constants": served.scoring_constants,
        }
        if explain:
            values = served.forest.contributions(features)
            reply["contributions"] = top_contributions(values, served.feature_names)
        return reply

    def get_input_types(self) -> list[dict]:
        return [{"name": V2_INPUT, "datatype": "FP64", "shape": [-1, self._width()]}]

    def get_output_types(self) -> list[dict]:
        return [
            {"name": V2_OUTPUT, "datatype": "FP64", "shape": [-1]},
            {"name": V2_CONTRIBUTIONS, "datatype": "FP64", "shape": [-1, self._width()]},
        ]

    def _width(self) -> int:
        """Features per row; -1 before any model is loaded (its metadata asked while not ready)."""
        served = getattr(self, "served_", None)
        return -1 if served is None else len(served.feature_names)

    def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
        super().stop()

    def _predict_v2(self, request: InferRequest, served: ServedModel) -> InferResponse:
        wanted = [output.name for output in request.request_outputs or []] or [V2_OUTPUT]
        unknown = sorted(set(wanted) - set(V2_OUTPUTS))
        if unknown:
            raise InvalidInput(f"unknown outputs {unknown}; this model has {list(V2_OUTPUTS)}")
        features = v2_features(request, served.feature_names)
        outputs = []
        if V2_OUTPUT in wanted:
            scores = served.forest.predict(features)
            outputs.append(InferOutput(V2_OUTPUT, [len(features)], "FP64", data=scores))
        if V2_CONTRIBUTIONS in wanted:
            values = served.forest.contributions(features)
            outputs.append(InferOutput(V2_CONTRIBUTIONS, list(values.shape), "FP64", data=values))
        return InferResponse(
            request.id or str(uuid.uuid4()),
            self.name,
            outputs,
            model_version=served.version,
            parameters=served.parameters,
            use_binary_outputs=request.use_binary_outputs,
            requested_outputs=request.request_outputs,
        )

    def _resolve(self) -> ModelVersion:
        name, alias, number = parse_model_uri(self.model_uri)
        try:
            if alias:
                return self._client().get_model_version_by_alias(name, alias)
            return self._client().get_model_version(name, number)
        except MlflowException as e:
            raise RuntimeError(
                f"cannot resolve {self.model_uri} in {self.tracking_uri}: {e.message}. "
                "Train and promote a champion first (skillrank run)."
            ) from e

    def _load(self, version: ModelVersion) -> ServedModel:
        try:
            booster = download_booster(self._client(), version)
        except MlflowException as e:
            raise RuntimeError(f"cannot load {self.model_uri} from {self.tracking_uri}: {e.message}") from e
        try:
            constants = ScoringConstants.from_tags(version.tags)
        except ValueError as e:
            raise DataError(f"model version {version.name}/{version.version} cannot be served: {e}") from e
        forest = Forest(booster, compile=self.compile)
        logger.info(
            "serving %s version %s on %d features (%s)",
            version.name,
            version.version,
            booster.num_feature(),
            "compiled" if forest.compiled else "LightGBM predict",
        )
        with contextlib.suppress(ValueError):
            metrics.MODEL_VERSION.labels(self.name).set(float(version.version))
        return ServedModel(str(version.version), forest, constants, booster.feature_name())

    def _client(self) -> MlflowClient:
        if getattr(self, "_mlflow", None) is None:
            self._mlflow = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        return self._mlflow

    def _watch_in_background(self) -> None:
        """Start the registry poll in the running event loop (in each worker), once."""
        if self.poll_seconds <= 0 or (self._watcher is not None and not self._watcher.done()):
            return
        with contextlib.suppress(RuntimeError):  # no running loop: called outside a server
            self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds)
            try:
                await self.reload()
            except Exception as e:  # the registry is down, a version cannot load: keep serving this one
                metrics.RELOADS.labels(self.name, "failed").inc()
                logger.warning("checking %s for a new version failed: %s", self.model_uri, e)

    def __getstate__(self) -> dict:
        # A worker process gets the loaded model; its own event loop starts its own poll.
        return {key: value for key, value in self.__dict__.items() if key not in ("_watcher", "_mlflow")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._watcher = None


def parse_model_uri(uri: str) -> tuple[str, str | None, str | None]:
    """The model name and the alias or version number of a registry URI.

    Raises:
        DataError: `uri` is neither ``models:/<name>@<alias>`` nor ``models:/<name>/<version>``.

    Example:
        >>> parse_model_uri("models:/skillrank@champion")
        ('skillrank', 'champion', None)
        >>> parse_model_uri("models:/skillrank/3")
        ('skillrank', None, '3')
    """
    match = _MODEL_URI.match(uri)
    if match is None:
        raise DataError(f"--model_uri must be models:/<name>@<alias> or models:/<name>/<version>, not {uri}")
    return match["name"], match["alias"], match["version"]


def download_booster(client: MlflowClient, version: ModelVersion) -> lgb.Booster:
    """The Booster of a model version, read through `client` only (MLflow's global URIs untouched).

    Not ``mlflow.lightgbm.load_model("models:/...")``: MLflow resolves a ``models:/`` URI against its
    global registry URI, so the version's own artifact location is downloaded with the client's
    tracking URI, and the Booster loaded from the local copy.
    """
    location = client.get_model_version_download_uri(version.name, version.version)
    local = mlflow.artifacts.download_artifacts(artifact_uri=location, tracking_uri=client.tracking_uri)
    return mlflow.lightgbm.load_model(local)


def top_contributions(values: np.ndarray, feature_names: list[str]) -> list[dict[str, float]]:
    """The `TOP_CONTRIBUTIONS` largest contributions of each row, by feature name.

    Example:
        >>> top_contributions(np.array([[0.1, -0.5, 0.0, 0.2]]), ["a", "b", "c", "d"])
        [{'b': -0.5, 'd': 0.2, 'a': 0.1}]
    """
    top = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :TOP_CONTRIBUTIONS]
    return [
        {feature_names[j]: float(row[j]) for j in columns} for row, columns in zip(values, top, strict=True)
    ]


def v1_features(payload: object, feature_names: list[str]) -> tuple[np.ndarray, bool]:
    """The feature matrix and the ``explain`` flag of a v1 body.

    Not kserve's ``get_predict_input``: it reads dict instances as column-oriented frames (a row of
    scalars fails with a 500) and fills a missing feature with NaN instead of naming it.

    Raises:
        InvalidInput: The body, its flag, a row or a value is not what the model needs.

    Example:
        >>> v1_features({"instances": [{"b": 2, "a": None}], "explain": True}, ["a", "b"])
        (array([[nan,  2.]]), True)
        >>> v1_features({"instances": [{"a": 1}]}, ["a", "b"])
        Traceback (most recent call last):
        ...
        kserve.errors.InvalidInput: instances lack the features ['b']; the model needs ['a', 'b']
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("instances"), list):
        raise InvalidInput('expected a JSON body {"instances": [...]}')
    explain = payload.get("explain", False)
    if not isinstance(explain, bool):
        raise InvalidInput(f'"explain" must be true or false, got {explain!r}')
    instances = payload["instances"]
    if instances and all(isinstance(row, dict) for row in instances):
        missing = [name for name in feature_names if any(name not in row for row in instances)]
        if missing:
            raise InvalidInput(f"instances lack the features {missing}; the model needs {feature_names}")
        instances = [[row[name] for name in feature_names] for row in instances]
    elif not all(isinstance(row, list) for row in instances):
        raise InvalidInput("instances must all be objects by feature name or all be lists in feature order")
    return feature_matrix(instances, feature_names), explain


def v2_features(request: InferRequest, feature_names: list[str]) -> np.ndarray:
    """The feature matrix of the v2 input named `V2_INPUT` (found by name, not by position).

    Raises:
        InvalidInput: The input is absent, not numeric, or not rows of ``len(feature_names)`` values.
    """
    width = len(feature_names)
    tensor = request.get_input_by_name(V2_INPUT)
    if tensor is None:
        raise InvalidInput(f'expected one v2 input named "{V2_INPUT}" of shape [n, {width}]')
    if tensor.datatype not in NUMERIC_DATATYPES:
        raise InvalidInput(f'the v2 input "{V2_INPUT}" must be numeric (FP64, ...), not {tensor.datatype}')
    try:
        rows = np.asarray(tensor.as_numpy(), dtype=np.float64)
    except (TypeError, ValueError) as e:  # data that do not fill the shape
        raise InvalidInput(
            f'the v2 input "{V2_INPUT}" ({tensor.datatype}, shape {tensor.shape}) cannot be read: {e}'
        ) from e
    if rows.ndim != 2 or rows.shape[1] != width:
        raise InvalidInput(
            f'the v2 input "{V2_INPUT}" must have shape [n, {width}] (features in the order '
            f"{feature_names}), got {list(rows.shape)}"
        )
    return rows


def feature_matrix(rows: list | np.ndarray, feature_names: list[str]) -> np.ndarray:
    """Rows as a float matrix of one column per feature (null values become NaN, LightGBM's missing).

    Raises:
        InvalidInput: A value is not a number, or a row does not hold one value per feature.

    Example:
        >>> feature_matrix([[1, None]], ["a", "b"])
        array([[ 1., nan]])
        >>> feature_matrix([[1, 2, 3]], ["a", "b"])
        Traceback (most recent call last):
        ...
        kserve.errors.InvalidInput: expected 2 features per row in the order ['a', 'b'], got 3
    """
    width = len(feature_names)
    if len(rows) == 0:
        return np.empty((0, width))
    try:
        matrix = np.asarray(rows, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise InvalidInput(f"instances must be rows of {width} numbers: {e}") from e
    if matrix.ndim != 2 or matrix.shape[1] != width:
        got = matrix.shape[1] if matrix.ndim == 2 else "a ragged or nested row"
        raise InvalidInput(f"expected {width} features per row in the order {feature_names}, got {got}")
    return matrix


def build_parser() -> argparse.ArgumentParser:
    """KServe's shared server flags plus the predictor's own."""
    parser = argparse.ArgumentParser(
        prog="python -m inference.predictor",
        description=__doc__.splitlines()[0],
        parents=[kserve.model_server.parser],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog="Settings (SKILLRANK_* environment variables) supply the defaults of --model_name, "
        "--model_uri, --tracking_uri and --poll_seconds.",
    )
    parser.add_argument("--model_uri", help="MLflow model URI (default: models:/<model name>@champion)")
    parser.add_argument("--tracking_uri", help="MLflow tracking URI (default: the settings' tracking URI)")
    parser.add_argument(
        "--poll_seconds", type=float, help="How often to check the registry for a new version (0: never)"
    )
    parser.add_argument(
        "--compile",
        type=lambda value: value.lower() in ("1", "true", "yes"),
        default=True,
        help="Score with the booster compiled to native code by lleaves (false: LightGBM's predict)",
    )
    add_server_flags(parser)
    return parser


def main(argv: list[str] | None = None) -> None:
    """Load the champion and serve it until the process is stopped."""
    settings = Settings.load()
    defaults = argparse.Namespace(
        model_name=settings.model_name,
        model_uri=registry.model_uri(settings.model_name),
        tracking_uri=settings.mlflow_uri,
        poll_seconds=settings.serving_poll_seconds,
    )
    args = build_parser().parse_args(argv, namespace=defaults)
    configure_logging(args.log_level)
    model = RankingPredictor(
        args.model_name, args.model_uri, args.tracking_uri, args.poll_seconds, compile=args.compile
    )
    load_or_wait(model, args.wait_for_model, args.poll_seconds)
    model_server(args).start([model])


if __name__ == "__main__":
    main()
