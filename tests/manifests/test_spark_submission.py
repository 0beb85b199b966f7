"""The training pipeline's features step submits to the Spark Operator exactly where the operator is.

Prod includes manifests/components/spark-operator: its ConfigMap turns the submission on and the
pipeline's Role may read the template and create and read applications, nothing more. Dev has no
operator: the setting stays off (the step runs Spark in its own pod) and the Role grants nothing on it.
"""

from __future__ import annotations

import pytest

from components.config.settings import Settings
from components.features.spark_operator import APPLICATIONS, GROUP, SCHEDULED
from tests.manifests.rendering import KUBECTL, OVERLAYS, find, render

pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")


@pytest.fixture(scope="module", params=["dev", "prod"])
def rendered(request) -> tuple[str, list[dict]]:
    return request.param, render(OVERLAYS[request.param])


def spark_grants(objects: list[dict], subject: str) -> set[tuple[str, str, tuple[str, ...]]]:
    """(resource, verb, resourceNames) on the operator's API group, of every Role bound to `subject`."""
    roles = {
        b["roleRef"]["name"]
        for b in objects
        if b["kind"] == "RoleBinding"
        and any(s["kind"] == "ServiceAccount" and s["name"] == subject for s in b["subjects"])
    }
    return {
        (resource, verb, tuple(rule.get("resourceNames", ())))
        for role in objects
        if role["kind"] in {"Role", "ClusterRole"} and role["metadata"]["name"] in roles
        for rule in role["rules"]
        if GROUP in rule["apiGroups"] or "*" in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def test_the_pipeline_may_create_and_read_applications_only_where_the_operator_is(rendered):
    overlay, objects = rendered
    expected = {
        (SCHEDULED, "get", (Settings().spark_application_template,)),
        (APPLICATIONS, "create", ()),
        (APPLICATIONS, "get", ()),
    }
    assert spark_grants(objects, "skillrank-pipeline") == (expected if overlay == "prod" else set())


def test_the_submission_is_on_in_prod_and_off_in_dev(rendered):
    overlay, objects = rendered
    data = find(objects, "ConfigMap", "skillrank-config")["data"]
    submit = data.get("SKILLRANK_SPARK_SUBMIT", Settings.model_fields["spark_submit"].default)
    assert submit == ("operator" if overlay == "prod" else "local")
    assert Settings(spark_submit=submit).spark_submit == submit  # a value the settings accept


def test_the_template_the_step_reads_is_installed_in_prod(rendered):
    overlay, objects = rendered
    names = {o["metadata"]["name"] for o in objects if o["kind"] == "ScheduledSparkApplication"}
    assert (Settings().spark_application_template in names) == (overlay == "prod")
