"""Stage 2 of the feed: a KServe predictor scoring candidates with the MLflow champion (a LightGBM Booster).

Its reply carries the model version's scoring constants (`components.scoring.finalize.ScoringConstants`,
read from the version's tags), so the transformer finalizes scores with the numbers batch scoring used.
A v1 body with ``"explain": true`` also gets each row's largest feature contributions (SHAP values);
they cost about thirty predictions each, so the transformer asks for them for the investors it shows only.

Run it with ``python -m inference.predictor --model_name skillrank``; ``--help`` lists every flag.
"""

from __future__ import annotations

import argparse
import logging
import re

import kserve
import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferRequest, InferResponse
from kserve.utils.utils import get_predict_response
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from components.config import registry
from components.config.settings import Settings
from components.errors import DataError
from components.scoring.finalize import ScoringConstants
from inference.server import add_bind_host, model_server

logger = logging.getLogger(__name__)

V2_INPUT = "features"
V2_OUTPUT = "predictions"
TOP_CONTRIBUTIONS = 3  # features per row in an explained reply, largest absolute contribution first
_MODEL_URI = re.compile(r"^models:/(?P<name>[^/@]+)(@(?P<alias>[^/@]+)|/(?P<version>\d+))$")


class RankingPredictor(kserve.Model):
    """Raw ranking scores of feature rows, from a registered model version.

    Args:
        name: Model name on the endpoint path (the transformer calls the same name).
        model_uri: ``models:/<name>@<alias>`` or ``models:/<name>/<version>``.
        tracking_uri: MLflow tracking (and registry) URI.
    """

    def __init__(self, name: str, model_uri: str, tracking_uri: str):
        super().__init__(name)
        self.model_uri = model_uri
        self.tracking_uri = tracking_uri

    def load(self) -> bool:
        """Resolve the URI to one model version, load its Booster and its scoring constants."""
        name, alias, number = parse_model_uri(self.model_uri)
        client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        try:
            version = (
                client.get_model_version_by_alias(name, alias)
                if alias
                else client.get_model_version(name, number)
            )
            self.booster_ = download_booster(client, version)
        except MlflowException as e:
            raise RuntimeError(
                f"cannot load {self.model_uri} from {self.tracking_uri}: {e.message}. "
                "Train and promote a champion first (skillrank run)."
            ) from e
        try:
            self.constants = ScoringConstants.from_tags(version.tags)
        except ValueError as e:
            raise DataError(f"model version {name}/{version.version} cannot be served: {e}") from e
        self.model_version = str(version.version)
        self.feature_names = self.booster_.feature_name()
        logger.info("serving %s version %s on %d features", name, self.model_version, len(self.feature_names))
        self.ready = True
        return self.ready

    def predict(
        self, payload: dict | InferRequest, headers: dict[str, str] | None = None
    ) -> dict | InferResponse:
        """Score v1 ``{"instances": [...], "explain": false}`` or a v2 request.

        v1 instances are dicts by feature name or lists in feature order. An explained v1 reply adds
        ``contributions``: one ``{feature: contribution}`` per row.
        """
        if isinstance(payload, InferRequest):
            scores = self._score(v2_features(payload, self.feature_names))
            response = get_predict_response(payload, pd.DataFrame({V2_OUTPUT: scores}), self.name)
            response.model_version = self.model_version
            response.parameters = self.constants.to_dict()
            return response
        features, explain = v1_features(payload, self.feature_names)
        reply = get_predict_response(payload, self._score(features), self.name)
        reply |= {
            "model_name": self.name,
            "model_version": self.model_version,
            "scoring_constants": self.constants.to_dict(),
        }
        if explain:
            reply["contributions"] = self._contributions(features)
        return reply

    def get_input_types(self) -> list[dict]:
        return [{"name": V2_INPUT, "datatype": "FP64", "shape": [-1, len(self.feature_names)]}]

    def get_output_types(self) -> list[dict]:
        return [{"name": V2_OUTPUT, "datatype": "FP64", "shape": [-1]}]

    def _score(self, features: np.ndarray) -> np.ndarray:
        return self.booster_.predict(features) if len(features) else np.empty(0)

    def _contributions(self, features: np.ndarray) -> list[dict[str, float]]:
        """The `TOP_CONTRIBUTIONS` largest SHAP values of each row, by feature name (the bias left out)."""
        if not len(features):
            return []
        values = self.booster_.predict(features, pred_contrib=True)[:, : len(self.feature_names)]
        top = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :TOP_CONTRIBUTIONS]
        names = self.feature_names
        return [{names[j]: float(row[j]) for j in columns} for row, columns in zip(values, top, strict=True)]


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
    if all(isinstance(row, dict) for row in instances):
        missing = [name for name in feature_names if any(name not in row for row in instances)]
        if missing:
            raise InvalidInput(f"instances lack the features {missing}; the model needs {feature_names}")
        instances = [[row[name] for name in feature_names] for row in instances]
    return feature_matrix(instances, feature_names), explain


def v2_features(request: InferRequest, feature_names: list[str]) -> np.ndarray:
    """The feature matrix of the v2 input named `V2_INPUT` (found by name, not by position).

    Raises:
        InvalidInput: The input is absent, its data do not fill its shape, or its rows are not
            rows of ``len(feature_names)`` numbers.
    """
    tensor = request.get_input_by_name(V2_INPUT)
    if tensor is None:
        raise InvalidInput(f'expected one v2 input named "{V2_INPUT}" of shape [n, {len(feature_names)}]')
    try:
        rows = tensor.as_numpy()
    except ValueError as e:  # data that do not fill the shape, an unknown datatype
        raise InvalidInput(
            f'the v2 input "{V2_INPUT}" ({tensor.datatype}, shape {tensor.shape}) cannot be read: {e}'
        ) from e
    return feature_matrix(rows, feature_names)


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
        matrix = np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)
    except (TypeError, ValueError) as e:
        raise InvalidInput(f"instances must be rows of {width} numbers: {e}") from e
    if matrix.shape[1] != width:
        raise InvalidInput(
            f"expected {width} features per row in the order {feature_names}, got {matrix.shape[1]}"
        )
    return matrix


def build_parser() -> argparse.ArgumentParser:
    """KServe's shared server flags plus the predictor's own."""
    parser = argparse.ArgumentParser(
        prog="python -m inference.predictor",
        description=__doc__.splitlines()[0],
        parents=[kserve.model_server.parser],
        epilog="Settings (SKILLRANK_* environment variables) supply the defaults of --model_name, "
        "--model_uri and --tracking_uri.",
    )
    parser.add_argument("--model_uri", help="MLflow model URI (default: models:/<model name>@champion)")
    parser.add_argument("--tracking_uri", help="MLflow tracking URI (default: the settings' tracking URI)")
    add_bind_host(parser)
    return parser


def main(argv: list[str] | None = None) -> None:
    """Load the champion and serve it until the process is stopped."""
    settings = Settings.load()
    defaults = argparse.Namespace(
        model_name=settings.model_name,
        model_uri=registry.model_uri(settings.model_name),
        tracking_uri=settings.mlflow_uri,
    )
    args = build_parser().parse_args(argv, namespace=defaults)
    model = RankingPredictor(args.model_name, args.model_uri, args.tracking_uri)
    model.load()
    model_server(args).start([model])


if __name__ == "__main__":
    main()
