"""Run the Spark feature job as a SparkApplication of the Kubeflow Spark Operator, and wait for it.

With ``spark_submit: operator`` the training pipeline's features step does not start Spark in its own
pod: it submits the feature job to the operator, so the job gets the executors the nightly refresh has.
The application's spec is the template of the ScheduledSparkApplication the manifests install
(``spark_application_template``), read from the cluster, so image, volumes, env, security context and
labels (the ones the Spark NetworkPolicies select) are the rendered manifests', not a copy of them.
Only what differs is changed: the driver runs `components.features.job` alone (no ingest, no publish)
on the step's data root, with the executors the step's settings size.

The application is left in place after it ends, for its driver's log; the template's
``timeToLiveSeconds`` has the operator remove it.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from components.config.layout import DataLayout
from components.config.settings import Settings
from components.errors import DataError
from feature_repo.feature_schema import ENTITY_KEY, EVENT_TIMESTAMP

logger = logging.getLogger(__name__)

GROUP, VERSION = "sparkoperator.k8s.io", "v1beta2"
APPLICATIONS, SCHEDULED = "sparkapplications", "scheduledsparkapplications"
# spark-submit runs a Python file: the job module as installed in the image's venv (Dockerfile).
JOB_FILE = "local:///opt/venv/lib/python3.11/site-packages/components/features/job.py"
# Python puts a script's directory first on sys.path, where components/features/calendar.py would
# shadow the standard library's calendar; PYTHONSAFEPATH (Python 3.11) leaves it off.
SAFE_PATH = {"name": "PYTHONSAFEPATH", "value": "1"}
COMPLETED = "COMPLETED"
FAILED = frozenset({"FAILED", "SUBMISSION_FAILED"})
MAX_NAME = 63  # the operator labels the pods with the application's name


def compute_features(settings: Settings) -> dict[str, int]:
    """Run the feature job where the settings say: a SparkApplication (``spark_submit: operator``, which
    this waits for) or Spark's local mode in this process; the counts of the written ``features/``.

    Spark is only imported for the local mode: the operator's driver runs it, not this pod.
    """
    if settings.spark_submit == "operator":
        return run_feature_application(settings, settings.layout)
    from components.features.job import build_features

    return build_features(settings.layout)


def application_name(prefix: str, now: datetime | None = None, suffix: str | None = None) -> str:
    """A name no other run takes: the prefix, the UTC time to the second and a random suffix.

    Example:
        >>> application_name("skillrank-features", datetime(2024, 5, 1, 2, 3, 4, tzinfo=UTC), "a1b2c")
        'skillrank-features-20240501-020304-a1b2c'
    """
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    tail = f"-{stamp}-{suffix or secrets.token_hex(3)[:5]}"
    return prefix[: MAX_NAME - len(tail)].rstrip("-") + tail


def feature_application(scheduled: dict, name: str, settings: Settings, layout: DataLayout) -> dict:
    """The SparkApplication that runs only the feature job on `layout`: the scheduled one's template,
    with the job as main file, the step's data root, and executors from `settings`."""
    spec = copy.deepcopy(scheduled["spec"]["template"])
    spec["mainApplicationFile"] = JOB_FILE
    spec["arguments"] = ["--data-root", str(layout.root)]
    driver = spec.setdefault("driver", {})
    driver["env"] = [e for e in driver.get("env", []) if e["name"] != SAFE_PATH["name"]] + [SAFE_PATH]
    cores = settings.spark_executor_cores
    spec.setdefault("executor", {}).update(
        instances=settings.spark_executor_instances,
        cores=cores,
        coreLimit=str(cores),
        memory=settings.spark_executor_memory,
    )
    metadata = scheduled["metadata"]
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "SparkApplication",
        "metadata": {
            "name": name,
            "namespace": settings.namespace,
            "labels": dict(metadata.get("labels", {})),
        },
        "spec": spec,
    }


def run_feature_application(
    settings: Settings, layout: DataLayout, custom_objects_api=None, name: str | None = None
) -> dict[str, int]:
    """Submit the feature job to the Spark Operator, wait until it completes, return its table's counts.

    Returns:
        ``{"rows": ..., "accounts": ..., "as_of_dates": ...}`` of ``features/``, as `build_features`.

    Raises:
        DataError: The template is not installed, the run may not read it or create applications, or
            the application failed or did not complete within ``spark_application_timeout_seconds``.
    """
    from components.release.deploy import kubernetes_custom_objects_api

    api = custom_objects_api or kubernetes_custom_objects_api()
    namespace, template = settings.namespace, settings.spark_application_template
    name = name or application_name(template)
    with _explained(namespace, f"ScheduledSparkApplication {namespace}/{template}", "get"):
        scheduled = api.get_namespaced_custom_object(GROUP, VERSION, namespace, SCHEDULED, template)
    body = feature_application(scheduled, name, settings, layout)
    with _explained(namespace, f"SparkApplication {namespace}/{name}", "create"):
        api.create_namespaced_custom_object(GROUP, VERSION, namespace, APPLICATIONS, body)
    logger.info("features: submitted SparkApplication %s/%s", namespace, name)
    wait_for_completion(api, settings, name)
    return table_counts(layout)


def wait_for_completion(api, settings: Settings, name: str) -> dict:
    """Poll the application until the operator reports COMPLETED; returns its status.

    Raises:
        DataError: FAILED or SUBMISSION_FAILED (with the operator's message), or the timeout passed.
    """
    namespace = settings.namespace
    target = f"SparkApplication {namespace}/{name}"
    deadline = time.monotonic() + settings.spark_application_timeout_seconds
    seen = None
    while True:
        with _explained(namespace, target, "get"):
            status = api.get_namespaced_custom_object(GROUP, VERSION, namespace, APPLICATIONS, name).get(
                "status", {}
            )
        state = status.get("applicationState", {})
        if state.get("state") != seen:
            seen = state.get("state")
            logger.info("features: %s is %s", target, seen or "NEW")
        if seen == COMPLETED:
            return status
        if seen in FAILED:
            driver = status.get("driverInfo", {}).get("podName", f"{name}-driver")
            raise DataError(
                f"{target} ended {seen}: {state.get('errorMessage') or 'no message'}; read its driver's log "
                f"(kubectl logs -n {namespace} {driver})"
            )
        if time.monotonic() >= deadline:
            raise DataError(
                f"{target} is still {seen or 'NEW'} after {settings.spark_application_timeout_seconds:g}s: "
                "raise SKILLRANK_SPARK_APPLICATION_TIMEOUT_SECONDS, or see why with kubectl describe"
            )
        time.sleep(settings.spark_application_poll_seconds)


def table_counts(layout: DataLayout) -> dict[str, int]:
    """Rows, distinct accounts and distinct as-of dates of the written ``features/`` table."""
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    if not layout.features.exists():
        raise DataError(f"the SparkApplication completed but wrote no feature table at {layout.features}")
    table = ds.dataset(layout.features, format="parquet").to_table(columns=[ENTITY_KEY, EVENT_TIMESTAMP])
    return {
        "rows": table.num_rows,
        "accounts": pc.count_distinct(table[ENTITY_KEY]).as_py(),
        "as_of_dates": pc.count_distinct(table[EVENT_TIMESTAMP]).as_py(),
    }


@contextlib.contextmanager
def _explained(namespace: str, target: str, verb: str) -> Iterator[None]:
    """Turn the Kubernetes API's refusals into errors that say what to fix."""
    from kubernetes.client.exceptions import ApiException

    try:
        yield
    except ApiException as e:
        resource = target.split(" ", 1)[0].lower() + "s"
        if e.status in (401, 403):
            raise DataError(
                f"the run may not {verb} {target} ({e.status} {e.reason}): create the run with the "
                f"ServiceAccount skillrank-pipeline, whose Role in {namespace} needs the rule {resource} "
                f"{verb} (added by manifests/components/spark-operator), or set SKILLRANK_SPARK_SUBMIT=local"
            ) from e
        if e.status == 404:
            raise DataError(
                f"no {target}: install the Spark Operator and manifests/components/spark-operator in "
                f"{namespace} (the prod overlay does), or set SKILLRANK_SPARK_SUBMIT=local"
            ) from e
        raise
