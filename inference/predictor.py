"""Stage 2 of the feed: a KServe predictor scoring candidates with the MLflow champion (a LightGBM Booster).

Its reply carries the model version's scoring constants (`components.scoring.finalize.ScoringConstants`,
read from the version's tags), so the transformer finalizes scores with the numbers batch scoring used.
A v1 body with ``"explain": true`` also gets each row's largest feature contributions (SHAP values);
they cost about thirty predictions each, so the transformer asks for them for the investors it shows only.

Run it with ``python -m inference.predictor --model_name skillrank``; ``--help`` lists every flag.
"""

from __future__ import annotations

import argparse
import re
import uuid

import kserve
import mlflow
import numpy as np
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from components.config import registry
from components.config.settings import Settings
from components.scoring.finalize import ScoringConstants
from inference.server import add_bind_host, model_server

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
        match = _MODEL_URI.match(self.model_uri)
        if match is None:
            raise ValueError(
                f"model_uri must be models:/<name>@<alias> or models:/<name>/<version>, not {self.model_uri}"
            )
        mlflow.set_tracking_uri(self.tracking_uri)
        name, alias = match["name"], match["alias"]
        try:
            client = MlflowClient()
            version = (
                client.get_model_version_by_alias(name, alias)
                if alias
                else client.get_model_version(name, match["version"])
            )
            self.booster_ = mlflow.lightgbm.load_model(f"models:/{name}/{version.version}")
        except MlflowException as e:
            raise RuntimeError(
                f"cannot load {self.model_uri} from {self.tracking_uri}: {e.message}. "
                "Train and promote a champion first (skillrank run)."
            ) from e
        try:
            self.constants = ScoringConstants.from_tags(version.tags)
        except ValueError as e:
            raise RuntimeError(f"model version {name}/{version.version} cannot be served: {e}") from e
        self.model_version = str(version.version)
        self.feature_names = self.booster_.feature_name()
        self.ready = True
        return self.ready

    def predict(
        self, payload: dict | InferRequest, headers: dict[str, str] | None = None
    ) -> dict | InferResponse:
        """Score v1 ``{"instances": [...], "explain": false}`` or v2.

        v1 instances are dicts by feature name or lists in feature order. An explained v1 reply adds
        ``contributions``: one ``{feature: contribution}`` per row.
        """
        if isinstance(payload, InferRequest):
            return self._v2_response(payload, self._score(self._v2_features(payload)))
        if not isinstance(payload, dict) or not isinstance(payload.get("instances"), list):
            raise InvalidInput('expected a JSON body {"instances": [...]}')
        explain = payload.get("explain", False)
        if not isinstance(explain, bool):
            raise InvalidInput(f'"explain" must be true or false, got {explain!r}')
        features = self._v1_features(payload["instances"])
        reply = {
            "predictions": self._score(features).tolist(),
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

    def _v1_features(self, instances: list) -> np.ndarray:
        if all(isinstance(row, dict) for row in instances):
            missing = [name for name in self.feature_names if any(name not in row for row in instances)]
            if missing:
                raise InvalidInput(
                    f"instances lack the features {missing}; the model needs {self.feature_names}"
                )
            instances = [[row[name] for name in self.feature_names] for row in instances]
        return self._matrix(instances)

    def _v2_features(self, request: InferRequest) -> np.ndarray:
        tensor = request.get_input_by_name(V2_INPUT)
        if tensor is None:
            raise InvalidInput(
                f'expected one v2 input named "{V2_INPUT}" of shape [n, {len(self.feature_names)}]'
            )
        return self._matrix(tensor.as_numpy())

    def _matrix(self, rows) -> np.ndarray:
        if len(rows) == 0:
            return np.empty((0, len(self.feature_names)))
        try:
            matrix = np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)
        except (TypeError, ValueError) as e:
            raise InvalidInput(f"instances must be rows of {len(self.feature_names)} numbers: {e}") from e
        if matrix.shape[1] != len(self.feature_names):
            raise InvalidInput(
                f"expected {len(self.feature_names)} features per row in the order "
                f"{self.feature_names}, got {matrix.shape[1]}"
            )
        return matrix

    def _v2_response(self, request: InferRequest, scores: np.ndarray) -> InferResponse:
        output = InferOutput(name=V2_OUTPUT, shape=[len(scores)], datatype="FP64")
        output.set_data_from_numpy(scores.astype(np.float64), binary_data=request.use_binary_outputs)
        return InferResponse(
            response_id=request.id or str(uuid.uuid4()),
            model_name=self.name,
            model_version=self.model_version,
            infer_outputs=[output],
            parameters=self.constants.to_dict(),
            use_binary_outputs=request.use_binary_outputs,
        )


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
