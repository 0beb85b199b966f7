"""Runs on Kubeflow Pipelines through `kfp.Client`: upload a compiled pipeline, create a run, keep a
recurring run, each idempotent.

- `upload_pipeline` uploads a package once per content: its version is named after the package's SHA-256,
  so uploading the same YAML again finds the version instead of adding one;
- `submit_run` creates a run named for what asked for it (a retrain decision's id, a person's
  `skillrank submit`), and finds that run instead of creating a second one; `active_runs` lists the runs
  of a pipeline still pending or running, so a caller can leave one at a time;
- `ensure_recurring_run` keeps exactly one recurring run of that name, on the given version and schedule.

The client comes from `components.config.kfp.kfp_client`; every function takes it as an argument.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from components.config.settings import Settings
from components.errors import DataError

if TYPE_CHECKING:  # the client is passed in: this module never imports kfp.client (see config.kfp)
    import kfp

logger = logging.getLogger(__name__)

ACTIVE_STATES = ("PENDING", "RUNNING", "CANCELING", "PAUSED")  # V2beta1RuntimeState of a run not done
PAGE_SIZE = 100


@dataclass(frozen=True)
class PipelineRef:
    """An uploaded pipeline version."""

    pipeline_id: str
    version_id: str
    version_name: str


@dataclass(frozen=True)
class SubmittedRun:
    """A run (or recurring run) on Kubeflow Pipelines, and whether this call created it."""

    run_id: str
    display_name: str
    created: bool
    state: str | None = None


def version_name(name: str, package: Path) -> str:
    """The version name of `package`: the pipeline's name and the first 12 hex digits of its SHA-256."""
    return f"{name}-{hashlib.sha256(Path(package).read_bytes()).hexdigest()[:12]}"


def equals_filter(key: str, value: str) -> str:
    """A KFP API filter on one field's value.

    Example:
        >>> equals_filter("display_name", "skillrank")
        '{"predicates": [{"operation": "EQUALS", "key": "display_name", "stringValue": "skillrank"}]}'
    """
    return json.dumps({"predicates": [{"operation": "EQUALS", "key": key, "stringValue": value}]})


def upload_pipeline(client: kfp.Client, package: Path, name: str) -> PipelineRef:
    """The version of `name` holding `package`, uploaded if no version holds it yet.

    A new pipeline is created with `package` as its first version (KFP names that one after the
    pipeline; its description carries the content name, which later uploads look for).

    Raises:
        DataError: `package` does not exist.
    """
    if not Path(package).is_file():
        raise DataError(f"no compiled pipeline at {package}: run `skillrank compile` first")
    wanted = version_name(name, package)
    pipeline_id = client.get_pipeline_id(name)
    if pipeline_id is None:
        pipeline = client.upload_pipeline(str(package), pipeline_name=name, description=wanted)
        logger.info("uploaded pipeline %s (%s)", name, pipeline.pipeline_id)
        return find_version(client, pipeline.pipeline_id, wanted) or first_version(
            client, pipeline.pipeline_id
        )
    found = find_version(client, pipeline_id, wanted)
    if found is not None:
        logger.info("pipeline %s already holds %s", name, wanted)
        return found
    version = client.upload_pipeline_version(
        str(package), wanted, pipeline_id=pipeline_id, description=wanted
    )
    logger.info("uploaded version %s of pipeline %s", wanted, name)
    return PipelineRef(pipeline_id, version.pipeline_version_id, version.display_name)


def find_version(client: kfp.Client, pipeline_id: str, wanted: str) -> PipelineRef | None:
    """The version of `pipeline_id` named `wanted` (or described so), if any."""
    response = client.list_pipeline_versions(pipeline_id, page_size=PAGE_SIZE, sort_by="created_at desc")
    for version in response.pipeline_versions or []:
        if wanted in (version.display_name, version.description):
            return PipelineRef(pipeline_id, version.pipeline_version_id, version.display_name)
    return None


def first_version(client: kfp.Client, pipeline_id: str) -> PipelineRef:
    """The newest version of `pipeline_id` (the one a fresh upload created)."""
    response = client.list_pipeline_versions(pipeline_id, page_size=1, sort_by="created_at desc")
    versions = response.pipeline_versions or []
    if not versions:
        raise RuntimeError(f"pipeline {pipeline_id} has no version after its upload")
    return PipelineRef(pipeline_id, versions[0].pipeline_version_id, versions[0].display_name)


def latest_version(client: kfp.Client, name: str) -> PipelineRef:
    """The newest uploaded version of pipeline `name`.

    Raises:
        DataError: No pipeline of that name is uploaded.
    """
    pipeline_id = client.get_pipeline_id(name)
    if pipeline_id is None:
        raise DataError(
            f"Kubeflow Pipelines has no pipeline named '{name}' (kfp_training_pipeline): upload it with "
            "`skillrank submit`"
        )
    return first_version(client, pipeline_id)


def experiment_id(client: kfp.Client, settings: Settings) -> str:
    """The id of the settings' KFP experiment, created on first use."""
    return client.create_experiment(settings.kfp_experiment, namespace=settings.kfp_namespace).experiment_id


def find_run(client: kfp.Client, experiment: str, display_name: str) -> SubmittedRun | None:
    """The run of `experiment` named `display_name`, if one exists."""
    response = client.list_runs(
        experiment_id=experiment, page_size=1, filter=equals_filter("display_name", display_name)
    )
    runs = response.runs or []
    return SubmittedRun(runs[0].run_id, runs[0].display_name, False, runs[0].state) if runs else None


def active_runs(client: kfp.Client, experiment: str, pipeline_id: str) -> list[SubmittedRun]:
    """The runs of `pipeline_id` in `experiment` that are pending or running (newest first)."""
    response = client.list_runs(experiment_id=experiment, page_size=PAGE_SIZE, sort_by="created_at desc")
    return [
        SubmittedRun(run.run_id, run.display_name, False, run.state)
        for run in response.runs or []
        if run.state in ACTIVE_STATES
        and run.pipeline_version_reference is not None
        and run.pipeline_version_reference.pipeline_id == pipeline_id
    ]


def submit_run(
    client: kfp.Client, experiment: str, ref: PipelineRef, display_name: str, arguments: dict
) -> SubmittedRun:
    """A run of `ref` named `display_name` with `arguments`: the existing one of that name, or a new one."""
    existing = find_run(client, experiment, display_name)
    if existing is not None:
        logger.info("run %s exists already (%s, %s)", display_name, existing.run_id, existing.state)
        return existing
    run = client.run_pipeline(
        experiment_id=experiment,
        job_name=display_name,
        params=arguments,
        pipeline_id=ref.pipeline_id,
        version_id=ref.version_id,
    )
    logger.info("created run %s (%s)", display_name, run.run_id)
    return SubmittedRun(run.run_id, run.display_name, True, run.state)


def ensure_recurring_run(
    client: kfp.Client, experiment: str, ref: PipelineRef, display_name: str, cron: str, arguments: dict
) -> SubmittedRun:
    """Exactly one recurring run named `display_name`, of `ref` on `cron`.

    An existing one on the same version and schedule is kept; one on another version or schedule is
    replaced (deleted, then created anew), so calling this after each upload keeps the schedule current.
    """
    response = client.list_recurring_runs(
        experiment_id=experiment, page_size=PAGE_SIZE, filter=equals_filter("display_name", display_name)
    )
    for existing in response.recurring_runs or []:
        reference = existing.pipeline_version_reference
        schedule = (
            existing.trigger.cron_schedule.cron
            if existing.trigger and existing.trigger.cron_schedule
            else None
        )
        if reference is not None and reference.pipeline_version_id == ref.version_id and schedule == cron:
            logger.info("recurring run %s is in place (%s)", display_name, existing.recurring_run_id)
            return SubmittedRun(existing.recurring_run_id, display_name, False, existing.status)
        logger.info("replacing recurring run %s (%s)", display_name, existing.recurring_run_id)
        client.delete_recurring_run(existing.recurring_run_id)
    created = client.create_recurring_run(
        experiment_id=experiment,
        job_name=display_name,
        cron_expression=cron,
        params=arguments,
        pipeline_id=ref.pipeline_id,
        version_id=ref.version_id,
        max_concurrency=1,
        no_catchup=True,
    )
    logger.info("created recurring run %s (%s, %s)", display_name, created.recurring_run_id, cron)
    return SubmittedRun(created.recurring_run_id, display_name, True, created.status)


def training_arguments(settings: Settings) -> dict[str, str]:
    """The training pipeline's parameters for a run in the cluster: the settings' source and data root.

    Raises:
        DataError: No source directory is set.

    Example:
        >>> training_arguments(Settings(data_root="/data", source="/export"))
        {'source': '/export', 'data_root': '/data', 'config_file': ''}
    """
    if settings.source is None:
        raise DataError("no source directory for the training run: pass --source DIR or set SKILLRANK_SOURCE")
    return {"source": str(settings.source), "data_root": str(settings.data_root), "config_file": ""}
