"""The features step on the Spark Operator, against a double of the Kubernetes API served over HTTP.

No cluster or operator runs here, so the double answers the requests `kubernetes.client.CustomObjectsApi`
sends as an API server with the operator's CRDs does: the ScheduledSparkApplication of
manifests/components/spark-operator as `kubectl apply` leaves it, a POST that stores the
SparkApplication and answers 201 with the metadata the server adds, GETs whose ``status`` the operator
has filled in (shaped as the v1beta2 CRD's ``SparkApplicationStatus``: ``applicationState.state`` and
``errorMessage``, ``driverInfo``, ``sparkApplicationId``), and Status bodies for 403 and 404. The state
the operator would move the application through is scripted per test; the step talks to the double
through the real client, so paths, verbs and bodies are the ones a cluster receives.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from components.config.settings import Settings
from components.errors import DataError
from components.features.spark_operator import (
    APPLICATIONS,
    GROUP,
    JOB_FILE,
    SCHEDULED,
    VERSION,
    application_name,
    compute_features,
    run_feature_application,
    table_counts,
)
from feature_repo.feature_schema import ENTITY_KEY, EVENT_TIMESTAMP
from tests.kubernetes_double import KubernetesApiDouble, status

MANIFEST = (
    Path(__file__).resolve().parents[3]
    / "manifests"
    / "components"
    / "spark-operator"
    / "scheduledsparkapplication.yaml"
)
ROUTE = re.compile(
    rf"^/apis/{re.escape(GROUP)}/{VERSION}/namespaces/(?P<ns>[^/]+)/(?P<plural>[a-z]+)(?:/(?P<name>[^/?]+))?$"
)
SPARK_LABEL = {"app.kubernetes.io/name": "skillrank-features-spark"}


def operator_status(state: str, name: str, message: str = "") -> dict:
    """``status`` as the operator writes it on a SparkApplication in `state`."""
    driver = {"podName": f"{name}-driver", "webUIServiceName": f"{name}-ui-svc", "webUIPort": 4040}
    found = {"applicationState": {"state": state}, "submissionAttempts": 1, "executionAttempts": 1,
             "lastSubmissionAttemptTime": "2024-05-01T02:00:05Z", "sparkApplicationId": "spark-0a1b2c",
             "submissionID": "3f1c", "driverInfo": driver}  # fmt: skip
    if message:
        found["applicationState"]["errorMessage"] = message
    if state in {"COMPLETED", "FAILED"}:
        found["terminationTime"] = "2024-05-01T02:30:00Z"
    return found


class SparkOperatorApiDouble(KubernetesApiDouble):
    """Custom objects by (plural, namespace, name), the states GETs of the application walk through,
    the (verb, plural) pairs the caller may not use, and every request."""

    VERBS = {"GET": "get", "POST": "create"}  # the RBAC verb of each method

    def __init__(self, namespace: str, states: list[tuple[str, str]], forbidden=frozenset()):
        super().__init__()
        scheduled = yaml.safe_load(MANIFEST.read_text())
        scheduled["metadata"] |= {"namespace": namespace, "uid": "5e0c", "resourceVersion": "100",
                                  "generation": 1, "creationTimestamp": "2024-04-01T00:00:00Z"}  # fmt: skip
        self.objects = {(SCHEDULED, namespace, scheduled["metadata"]["name"]): scheduled}
        self.states, self.forbidden, self.requests = list(states), forbidden, []

    def answer(self, method, path, body, headers) -> tuple[int, dict]:
        verb = self.VERBS.get(method, method.lower())
        self.requests.append((verb, path, body))
        match = ROUTE.match(path)
        if match is None:
            return 404, status(404, "NotFound", "the server could not find the resource")
        plural, namespace, name = match["plural"], match["ns"], match["name"]
        if (verb, plural) in self.forbidden:
            user = f"system:serviceaccount:{namespace}:skillrank-pipeline"
            message = (
                f'{plural}.{GROUP} is forbidden: User "{user}" cannot {verb} resource "{plural}" '
                f'in API group "{GROUP}" in the namespace "{namespace}"'
            )
            return 403, status(403, "Forbidden", message)
        if verb == "create":
            name = body["metadata"]["name"]
            if (plural, namespace, name) in self.objects:
                return 409, status(409, "AlreadyExists", f'{plural} "{name}" already exists')
            body["metadata"] |= {"uid": "9d2e", "resourceVersion": "200", "generation": 1,
                                 "creationTimestamp": "2024-05-01T02:00:00Z"}  # fmt: skip
            self.objects[(plural, namespace, name)] = body
            return 201, body
        key = (plural, namespace, name)
        if key not in self.objects:
            return 404, status(404, "NotFound", f'{plural}.{GROUP} "{name}" not found')
        if plural == APPLICATIONS and self.states:
            state, message = self.states.pop(0) if len(self.states) > 1 else self.states[0]
            self.objects[key]["status"] = operator_status(state, name, message)
        return 200, self.objects[key]

    def created(self) -> dict:
        return next(body for verb, _, body in self.requests if verb == "create")


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(
        data_root=tmp_path / "root",
        namespace="team-a",
        spark_submit="operator",
        spark_executor_instances=6,
        spark_executor_cores=3,
        spark_executor_memory="7g",
        spark_application_poll_seconds=0.01,
        spark_application_timeout_seconds=5,
    )


@pytest.fixture
def written(settings):
    """The features/ table the driver writes: two accounts at two as-of dates, one at a third."""
    layout = settings.layout
    layout.features.mkdir(parents=True)
    dates = pd.to_datetime(["2024-01-31", "2024-02-29", "2024-01-31", "2024-02-29", "2024-03-31"])
    pd.DataFrame({ENTITY_KEY: ["a", "a", "b", "b", "b"], EVENT_TIMESTAMP: dates, "hhi": 0.5}).to_parquet(
        layout.features / "part-0.parquet"
    )
    return layout


PROGRESS = [("", ""), ("SUBMITTED", ""), ("RUNNING", ""), ("RUNNING", ""), ("COMPLETED", "")]


def test_the_application_is_the_templates_with_the_job_the_data_root_and_the_executors(settings, written):
    with SparkOperatorApiDouble("team-a", PROGRESS) as api:
        counts = run_feature_application(settings, written, api.client(), name="skillrank-features-x")
    app = api.created()
    spec, template = app["spec"], yaml.safe_load(MANIFEST.read_text())["spec"]["template"]
    assert app["apiVersion"] == f"{GROUP}/{VERSION}" and app["kind"] == "SparkApplication"
    assert app["metadata"]["namespace"] == "team-a" and app["metadata"]["labels"] == SPARK_LABEL | {
        "app.kubernetes.io/component": "features"
    }
    assert spec["image"] == template["image"] and spec["volumes"] == template["volumes"]
    assert spec["mainApplicationFile"] == JOB_FILE
    assert spec["arguments"] == ["--data-root", str(written.root)]
    sized = {"instances": 6, "cores": 3, "coreLimit": "3", "memory": "7g"}
    assert spec["executor"] == template["executor"] | sized
    assert spec["driver"]["serviceAccount"] == "skillrank-spark"
    assert spec["executor"]["serviceAccount"] == "skillrank-features"
    for role in ("driver", "executor"):  # the pods the Spark NetworkPolicies select
        assert spec[role]["labels"].items() >= SPARK_LABEL.items()
    assert {"name": "PYTHONSAFEPATH", "value": "1"} in spec["driver"]["env"]
    assert counts == {"rows": 5, "accounts": 2, "as_of_dates": 3}


def test_it_reads_the_template_creates_once_and_polls_until_completed(settings, written):
    with SparkOperatorApiDouble("team-a", PROGRESS) as api:
        run_feature_application(settings, written, api.client(), name="skillrank-features-x")
    base = f"/apis/{GROUP}/{VERSION}/namespaces/team-a"
    assert [(verb, path) for verb, path, _ in api.requests] == [
        ("get", f"{base}/{SCHEDULED}/skillrank-features"),
        ("create", f"{base}/{APPLICATIONS}"),
        *[("get", f"{base}/{APPLICATIONS}/skillrank-features-x")] * len(PROGRESS),
    ]
    assert "status" in api.objects[(APPLICATIONS, "team-a", "skillrank-features-x")]  # left for its logs


def test_a_failed_application_raises_with_the_operators_message(settings, written):
    failed = [("SUBMITTED", ""), ("RUNNING", ""), ("FAILED", "driver container failed with ExitCode: 2")]
    with (
        SparkOperatorApiDouble("team-a", failed) as api,
        pytest.raises(
            DataError, match=r"skillrank-features-x ended FAILED: driver container failed.*ExitCode: 2"
        ),
    ):
        run_feature_application(settings, written, api.client(), name="skillrank-features-x")


def test_a_submission_failure_raises(settings, written):
    failed = [("SUBMISSION_FAILED", "failed to run spark-submit: exit status 1")]
    with (
        SparkOperatorApiDouble("team-a", failed) as api,
        pytest.raises(DataError, match="SUBMISSION_FAILED: failed to run spark-submit"),
    ):
        run_feature_application(settings, written, api.client(), name="skillrank-features-x")


def test_an_application_that_does_not_end_in_time_raises(settings, written):
    hurried = settings.model_copy(update={"spark_application_timeout_seconds": 0.1})
    with (
        SparkOperatorApiDouble("team-a", [("RUNNING", "")]) as api,
        pytest.raises(DataError, match="still RUNNING after 0.1s: raise SKILLRANK_SPARK_APPLICATION_TIMEOUT"),
    ):
        run_feature_application(hurried, written, api.client(), name="skillrank-features-x")


@pytest.mark.parametrize(
    ("forbidden", "what"),
    [
        (("create", APPLICATIONS), "create SparkApplication"),
        (("get", SCHEDULED), "get ScheduledSparkApplication"),
    ],
)
def test_a_refusal_names_the_rbac_rule_that_is_missing(settings, written, forbidden, what):
    with (
        SparkOperatorApiDouble("team-a", PROGRESS, forbidden=frozenset({forbidden})) as api,
        pytest.raises(DataError, match=f"may not {what} .*403.*skillrank-pipeline") as raised,
    ):
        run_feature_application(settings, written, api.client(), name="skillrank-features-x")
    assert f"the rule {forbidden[1]} {forbidden[0]}" in str(raised.value)


def test_a_namespace_without_the_template_says_to_install_the_operator_component(settings, written):
    with (
        SparkOperatorApiDouble("elsewhere", PROGRESS) as api,
        pytest.raises(DataError, match="spark-operator.*SKILLRANK_SPARK_SUBMIT=local"),
    ):
        run_feature_application(settings, written, api.client())
    assert [verb for verb, *_ in api.requests] == ["get"]


def test_names_are_unique_and_fit_a_label():
    names = {application_name("x" * 80) for _ in range(20)}
    assert len(names) == 20 and all(len(name) <= 63 and not name.startswith("-") for name in names)


def test_the_counts_read_back_are_the_feature_jobs(spark, tmp_path):
    """The step returns what `build_features` would have: the counts read from the written table."""
    from components.features import build_features
    from tests.feature_world import write_world

    layout = write_world(tmp_path / "world")
    with pytest.raises(DataError, match="wrote no feature table"):
        table_counts(layout)
    counts = build_features(layout, spark)
    assert table_counts(layout) == counts


def test_the_job_file_is_where_the_image_installs_the_job_module():
    dockerfile = (Path(__file__).resolve().parents[3] / "Dockerfile").read_text()
    venv = re.search(r"RUN python -m venv (\S+)", dockerfile)[1]
    python = re.search(r"^FROM python:(\d+\.\d+)", dockerfile, re.MULTILINE)[1]
    installed = f"local://{venv}/lib/python{python}/site-packages/components/features/job.py"
    assert installed == JOB_FILE
    assert (Path(__file__).resolve().parents[3] / "components" / "features" / "job.py").exists()


@pytest.mark.parametrize("where", ["operator", "local"])
def test_the_step_runs_the_job_where_the_settings_say(settings, monkeypatch, where):
    import components.features.job as job
    import components.features.spark_operator as operator

    ran = []
    monkeypatch.setattr(operator, "run_feature_application", lambda s, layout: ran.append("operator") or {})
    monkeypatch.setattr(job, "build_features", lambda layout: ran.append("local") or {})
    compute_features(settings.model_copy(update={"spark_submit": where}))
    assert ran == [where]
