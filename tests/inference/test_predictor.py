"""The ranking predictor, called directly: loading from the registry, v1 and v2 payloads, errors."""

from __future__ import annotations

import asyncio
import pickle

import mlflow
import numpy as np
import pytest
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferInput, InferRequest, InferResponse, RequestedOutput
from mlflow.tracking._model_registry import utils as registry_utils
from mlflow.tracking._tracking_service import utils as tracking_utils

from components.config.registry import model_uri
from components.config.tracking import mlflow_client
from components.errors import DataError
from components.scoring.finalize import ScoringConstants
from inference.predictor import TOP_CONTRIBUTIONS, RankingPredictor, build_parser, main
from tests.serving_world import FEATURE_NAMES, register_again


@pytest.fixture(scope="module")
def rows(world):
    """Five latest-date rows and what the champion's Booster says of them."""
    latest = world.latest.head(5)
    return latest, world.booster.predict(latest[FEATURE_NAMES])


def test_load_resolves_the_champion_and_its_scoring_constants(predictor, world):
    assert predictor.ready
    assert predictor.served_version == world.model_version
    assert predictor.served_.constants == world.constants  # read back exactly from the version's tags
    assert predictor.served_.feature_names == FEATURE_NAMES


def test_load_neither_reads_nor_sets_mlflow_s_global_uris(world, tmp_path, monkeypatch):
    elsewhere = f"sqlite:///{tmp_path / 'elsewhere.db'}"  # MLflow would create it on first use
    for module, attribute in ((tracking_utils, "_tracking_uri"), (registry_utils, "_registry_uri")):
        monkeypatch.setattr(module, attribute, elsewhere)
    for variable in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.setenv(variable, elsewhere)
    name = world.settings.model_name
    model = RankingPredictor(name, model_uri(name), world.settings.mlflow_uri)
    assert model.load()
    assert model.served_version == world.model_version
    assert (mlflow.get_tracking_uri(), mlflow.get_registry_uri()) == (elsewhere, elsewhere)
    assert not (tmp_path / "elsewhere.db").exists()


def test_v1_instances_by_feature_name_score_like_the_booster(predictor, rows):
    latest, expected = rows
    instances = latest[FEATURE_NAMES[::-1]].to_dict("records")  # key order does not matter
    reply = predictor.predict({"instances": instances})
    np.testing.assert_allclose(reply["predictions"], expected)
    assert reply["model_version"] == predictor.served_version
    assert ScoringConstants.from_tags(reply["scoring_constants"]) == predictor.served_.constants
    assert "contributions" not in reply  # only when asked: they cost ~30 predictions each


def test_explained_reply_has_the_largest_contributions_of_each_row(predictor, rows):
    latest, expected = rows
    reply = predictor.predict({"instances": latest[FEATURE_NAMES].to_dict("records"), "explain": True})
    np.testing.assert_allclose(reply["predictions"], expected)
    full = predictor.served_.forest.booster.predict(latest[FEATURE_NAMES].to_numpy(), pred_contrib=True)[
        :, :-1
    ]
    for row, contributions in zip(full, reply["contributions"], strict=True):
        assert len(contributions) == TOP_CONTRIBUTIONS
        largest = sorted(np.abs(row), reverse=True)[:TOP_CONTRIBUTIONS]
        assert sorted(map(abs, contributions.values()), reverse=True) == pytest.approx(largest)
        for name, value in contributions.items():
            assert value == pytest.approx(row[FEATURE_NAMES.index(name)])


def test_explain_must_be_a_boolean(predictor, rows):
    latest, _ = rows
    with pytest.raises(InvalidInput, match='"explain" must be true or false'):
        predictor.predict({"instances": latest[FEATURE_NAMES].to_dict("records"), "explain": "yes"})


def test_v1_instances_as_lists_in_feature_order(predictor, rows):
    latest, expected = rows
    reply = predictor.predict({"instances": latest[FEATURE_NAMES].to_numpy().tolist()})
    np.testing.assert_allclose(reply["predictions"], expected)


def test_v1_null_feature_values_are_missing_values(predictor, rows):
    latest, _ = rows
    instance = {**latest[FEATURE_NAMES].iloc[0].to_dict(), "sharpe_12m": None}
    expected = predictor.served_.forest.booster.predict(
        np.array([[np.nan if v is None else v for v in instance.values()]])
    )
    assert predictor.predict({"instances": [instance]})["predictions"] == pytest.approx(expected.tolist())


def features_tensor(rows: np.ndarray, name: str = "features") -> InferInput:
    """A v2 input of feature rows, as a client builds it."""
    tensor = InferInput(name, list(rows.shape), "FP64")
    tensor.set_data_from_numpy(rows, binary_data=False)
    return tensor


def test_v2_infer_request(predictor, rows):
    latest, expected = rows
    tensor = features_tensor(latest[FEATURE_NAMES].to_numpy())
    response = predictor.predict(InferRequest(predictor.name, [tensor], request_id="r-1"))
    assert isinstance(response, InferResponse)
    assert response.id == "r-1"
    assert (response.model_name, response.model_version) == (predictor.name, predictor.served_version)
    [output] = response.outputs
    assert (output.name, output.datatype, output.shape) == ("predictions", "FP64", [len(latest)])
    np.testing.assert_allclose(output.as_numpy(), expected)
    assert ScoringConstants.from_tags(response.parameters) == predictor.served_.constants


def test_v2_features_input_is_found_by_name(predictor, rows):
    latest, expected = rows
    other = InferInput("viewer", [1], "BYTES", data=["acc-0001"])
    request = InferRequest(predictor.name, [other, features_tensor(latest[FEATURE_NAMES].to_numpy())])
    np.testing.assert_allclose(predictor.predict(request).outputs[0].as_numpy(), expected)


def test_v2_request_without_an_id_gets_one(predictor, rows):
    latest, _ = rows
    response = predictor.predict(
        InferRequest(predictor.name, [features_tensor(latest[FEATURE_NAMES].to_numpy())])
    )
    assert response.id


def test_v2_empty_batch_scores_nothing(predictor):
    response = predictor.predict(
        InferRequest(predictor.name, [features_tensor(np.empty((0, len(FEATURE_NAMES))))])
    )
    assert response.outputs[0].as_numpy().tolist() == []


def test_v2_data_that_does_not_fill_its_shape_is_invalid_input(predictor):
    tensor = InferInput("features", [2, len(FEATURE_NAMES)], "FP64", data=[0.5] * len(FEATURE_NAMES))
    with pytest.raises(InvalidInput, match=rf'input "features" \(FP64, shape \[2, {len(FEATURE_NAMES)}\]\)'):
        predictor.predict(InferRequest(predictor.name, [tensor]))


def test_v2_non_numeric_data_is_invalid_input(predictor):
    tensor = InferInput("features", [1, len(FEATURE_NAMES)], "FP64", data=["high"] * len(FEATURE_NAMES))
    with pytest.raises(InvalidInput, match='input "features" .* cannot be read'):
        predictor.predict(InferRequest(predictor.name, [tensor]))


def test_v2_rows_of_the_wrong_width_are_invalid_input(predictor):
    with pytest.raises(InvalidInput, match=rf"must have shape \[n, {len(FEATURE_NAMES)}\] .*got \[2, 3\]"):
        predictor.predict(InferRequest(predictor.name, [features_tensor(np.ones((2, 3)))]))


def test_v2_request_for_an_unknown_output_is_invalid_input(predictor, rows):
    latest, _ = rows
    request = InferRequest(
        predictor.name,
        [features_tensor(latest[FEATURE_NAMES].to_numpy())],
        request_outputs=[RequestedOutput("scores")],
    )
    with pytest.raises(InvalidInput, match=r"unknown outputs \['scores'\]; this model has"):
        predictor.predict(request)


def test_no_instances_score_nothing(predictor):
    assert predictor.predict({"instances": []})["predictions"] == []


def test_missing_feature_is_invalid_input_naming_it(predictor, rows):
    latest, _ = rows
    instance = latest[FEATURE_NAMES].iloc[0].to_dict()
    del instance["alpha_tstat_12m"]
    with pytest.raises(InvalidInput, match=r"lack the features \['alpha_tstat_12m'\]"):
        predictor.predict({"instances": [instance]})


@pytest.mark.parametrize("payload", [[], {"rows": []}, {"instances": {"hhi": 0.1}}])
def test_a_body_without_a_list_of_instances_is_invalid_input(predictor, payload):
    with pytest.raises(InvalidInput, match=r'expected a JSON body \{"instances": \[...\]\}'):
        predictor.predict(payload)


def test_rows_of_the_wrong_length_are_invalid_input(predictor):
    with pytest.raises(InvalidInput, match=f"expected {len(FEATURE_NAMES)} features per row"):
        predictor.predict({"instances": [[1.0, 2.0, 3.0]]})


def test_non_numeric_values_are_invalid_input(predictor):
    with pytest.raises(InvalidInput, match=f"rows of {len(FEATURE_NAMES)} numbers"):
        predictor.predict({"instances": [["high"] * len(FEATURE_NAMES)]})


def test_ragged_rows_are_invalid_input(predictor):
    with pytest.raises(InvalidInput, match=f"rows of {len(FEATURE_NAMES)} numbers"):
        predictor.predict({"instances": [[0.5] * len(FEATURE_NAMES), [0.5]]})


def test_v2_request_without_the_features_input_is_invalid(predictor):
    tensor = InferInput("x", [1, 1], "FP64", data=[1.0])
    with pytest.raises(InvalidInput, match='input named "features"'):
        predictor.predict(InferRequest(predictor.name, [tensor]))


def test_missing_alias_fails_to_load_with_a_clear_error(world):
    model = RankingPredictor(
        "skillrank", f"models:/{world.settings.model_name}@nobody", world.settings.mlflow_uri
    )
    with pytest.raises(
        RuntimeError, match="cannot resolve models:/skillrank@nobody .*Train and promote a champion"
    ):
        model.load()
    assert not model.ready


def test_version_without_scoring_constants_fails_to_load_naming_them(world):
    client = mlflow_client(world.settings)
    name = world.settings.model_name
    new = register_again(world.settings, world.model_version, {"neutral_score": "0.5"})  # as older trainings
    model = RankingPredictor(name, f"models:/{name}/{new}", world.settings.mlflow_uri)
    try:
        with pytest.raises(DataError, match=rf"{name}/{new} cannot be served: .*'prior_mean'"):
            model.load()
    finally:
        client.delete_model_version(name, new)
    assert not model.ready


def test_uri_without_a_version_or_alias_is_rejected(world):
    with pytest.raises(DataError, match="models:/<name>@<alias> or models:/<name>/<version>"):
        RankingPredictor("skillrank", "runs:/abc/model", world.settings.mlflow_uri).load()


def test_parser_adds_only_its_own_flags_to_kserve_s():
    args = build_parser().parse_args(
        [
            "--model_uri",
            "models:/m/3",
            "--tracking_uri",
            "sqlite:///x.db",
            "--http_port",
            "9000",
            "--enable_grpc",
            "false",
        ]
    )
    assert (args.model_uri, args.tracking_uri, args.http_port, args.enable_grpc) == (
        "models:/m/3",
        "sqlite:///x.db",
        9000,
        False,
    )


def test_main_has_help(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    assert "--model_uri" in capsys.readouterr().out


def test_v2_contributions_come_in_the_same_call_when_asked(predictor, rows):
    latest, expected = rows
    matrix = latest[FEATURE_NAMES].to_numpy()
    request = InferRequest(
        predictor.name,
        [features_tensor(matrix)],
        request_outputs=[RequestedOutput("predictions"), RequestedOutput("contributions")],
    )
    response = predictor.predict(request)
    scores, contributions = (response.get_output_by_name(n) for n in ("predictions", "contributions"))
    np.testing.assert_allclose(scores.as_numpy(), expected)
    assert contributions.shape == [len(latest), len(FEATURE_NAMES)]
    full = predictor.served_.forest.booster.predict(matrix, pred_contrib=True)
    np.testing.assert_allclose(contributions.as_numpy(), full[:, :-1])
    assert response.parameters["feature_names"] == ",".join(FEATURE_NAMES)
    assert response.parameters["model_version"] == predictor.served_version


def test_v2_only_contributions_skip_the_scores(predictor, rows):
    latest, _ = rows
    request = InferRequest(
        predictor.name,
        [features_tensor(latest[FEATURE_NAMES].to_numpy())],
        request_outputs=[RequestedOutput("contributions")],
    )
    assert [output.name for output in predictor.predict(request).outputs] == ["contributions"]


def test_scores_come_from_compiled_code_equal_to_lightgbm(predictor, world):
    assert predictor.served_.forest.compiled
    matrix = world.latest[FEATURE_NAMES].to_numpy()
    matrix[::4, 2] = np.nan
    np.testing.assert_allclose(
        predictor.served_.forest.predict(matrix), world.booster.predict(matrix), atol=1e-12
    )


def test_v2_string_datatype_is_invalid_input(predictor):
    tensor = InferInput("features", [1, len(FEATURE_NAMES)], "BYTES", data=["1"] * len(FEATURE_NAMES))
    with pytest.raises(InvalidInput, match="must be numeric"):
        predictor.predict(InferRequest(predictor.name, [tensor]))


def test_a_new_champion_is_swapped_in_on_reload(world, rows):
    """A second version promoted to champion is loaded by `reload`; the first serves until then."""
    latest, expected = rows
    client = mlflow_client(world.settings)
    name = world.settings.model_name
    model = RankingPredictor(name, model_uri(name), world.settings.mlflow_uri, compile=False)
    model.load()
    before = model.served_
    new_version = register_again(world.settings, world.model_version, world.constants.to_tags())
    client.set_registered_model_alias(name, "champion", new_version)
    try:
        assert model.served_version == world.model_version  # nothing changes until a reload
        assert asyncio.run(model.reload()) == new_version
        assert model.served_version == new_version and model.served_ is not before
        reply = model.predict({"instances": latest[FEATURE_NAMES].to_numpy().tolist()})
        assert reply["model_version"] == new_version
        np.testing.assert_allclose(reply["predictions"], expected)  # the same booster, registered again
        assert asyncio.run(model.reload()) == new_version  # nothing new: nothing reloaded
    finally:
        client.set_registered_model_alias(name, "champion", world.model_version)
        client.delete_model_version(name, new_version)


def test_a_worker_process_gets_the_loaded_model_and_compiles_it_again(predictor, rows):
    latest, expected = rows
    copy = pickle.loads(pickle.dumps(predictor))
    assert copy.served_version == predictor.served_version and copy.served_.forest.compiled
    np.testing.assert_allclose(copy.served_.forest.predict(latest[FEATURE_NAMES].to_numpy()), expected)
