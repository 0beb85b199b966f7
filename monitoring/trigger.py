"""What a retrain decision launches: the training pipeline, locally or on Kubeflow, one at a time.

- ``local``: ``skillrank run --source <source>`` in a subprocess, which runs the training pipeline with
  the KFP local runner (the same DAG, the same gate). Monitoring does not import `pipelines` (the
  direction of imports forbids it), and it should not: the local runner's ``local.init`` is
  process-wide state, so the training gets a process of its own, as it gets a pod of its own in a
  cluster. The data root's training lock (`components.release.lock`) is held for the whole run.
- ``kfp``: a run of the uploaded training pipeline (`components.release.submit`), named for the
  decision, so the same decision never creates a second run; none is created while another run of that
  pipeline is pending or running.
- ``none``: the decision is recorded only.

Either way a served model is retrained once per decision streak: after a retrain launched for a version,
later decisions about the same version launch nothing for ``retrain_every_days`` days (forever when it
is 0) — retraining on the same data again would not change the gate's verdict. Every outcome is appended
to ``<data root>/monitoring/triggers.jsonl``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from mlflow import MlflowClient

from components.config import registry
from components.config.kfp import kfp_client
from components.config.settings import Settings
from components.errors import DataError
from components.release import submit
from components.release.champion import version_by_alias
from components.release.lock import training_lock
from monitoring.decision import Decision

logger = logging.getLogger(__name__)

TRIGGERS = "triggers.jsonl"
CLUSTER_ENV = "KUBERNETES_SERVICE_HOST"  # set in every pod
COMMAND = "skillrank"
SECRET_FIELDS = {"kfp_token"}  # never written to the retrain's settings file


@dataclass(frozen=True)
class TriggerOutcome:
    """What the trigger did for a decision.

    Attributes:
        decision_id: The decision's id (served model and window).
        mode: ``local``, ``kfp`` or ``none``.
        launched: Whether a training was launched by this call.
        reason: One sentence.
        model_name: The served model the decision was about.
        model_version: Its version.
        run_id: The KFP run (kfp mode).
        exit_code: The exit code of ``skillrank run`` (local mode).
        new_version: The version the retrain registered (local mode).
        gate_promote: The gate's verdict on it (local mode).
        at: When (UTC, ISO 8601).
    """

    decision_id: str
    mode: str
    launched: bool
    reason: str
    model_name: str = ""
    model_version: str = ""
    run_id: str | None = None
    exit_code: int | None = None
    new_version: str | None = None
    gate_promote: bool | None = None
    at: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def trigger_mode(settings: Settings) -> str:
    """The trigger to use: the setting, or for ``auto`` kfp inside a Kubernetes pod and local elsewhere."""
    if settings.retrain_trigger != "auto":
        return settings.retrain_trigger
    return "kfp" if os.environ.get(CLUSTER_ENV) else "local"


def trigger_retrain(settings: Settings, decision: Decision, client: MlflowClient) -> TriggerOutcome:
    """Launch the training the decision calls for (see the module), record and return what happened.

    Args:
        settings: The deployment's settings (source, data root, trigger, KFP endpoint).
        decision: The decision; nothing is launched when it keeps the model.
        client: The MLflow client of the registry (to read the retrain's version and gate verdict).
    """
    mode = trigger_mode(settings)
    outcome = _trigger(settings, decision, client, mode)
    outcome = TriggerOutcome(
        **(
            outcome.to_dict()
            | {"model_name": decision.model_name, "model_version": decision.model_version, "at": _now()}
        )
    )
    record_outcome(settings.layout.monitoring / TRIGGERS, outcome)
    logger.info("trigger (%s): %s", mode, outcome.reason)
    return outcome


def _trigger(settings: Settings, decision: Decision, client: MlflowClient, mode: str) -> TriggerOutcome:
    if not decision.retrain:
        return TriggerOutcome(decision.decision_id, mode, False, "the decision keeps the served model")
    if mode == "none":
        return TriggerOutcome(decision.decision_id, mode, False, "retrain_trigger is none: decision recorded")
    earlier = earlier_retrain(settings, decision)
    if earlier is not None:
        return TriggerOutcome(
            decision.decision_id,
            mode,
            False,
            f"v{decision.model_version} was retrained already, for {earlier['decision_id']} at "
            f"{earlier['at']}",
        )
    if settings.source is None:
        raise DataError("a retrain needs the source directory: pass --source DIR or set SKILLRANK_SOURCE")
    if mode == "local":
        return launch_local(settings, decision, client)
    return launch_kfp(settings, decision)


def earlier_retrain(settings: Settings, decision: Decision) -> dict | None:
    """The latest retrain launched for the decision's served version within `retrain_every_days`."""
    for outcome in reversed(read_outcomes(settings.layout.monitoring / TRIGGERS)):
        same = (outcome.get("model_name"), outcome.get("model_version")) == (
            decision.model_name,
            decision.model_version,
        )
        if not outcome["launched"] or not same:
            continue
        age = datetime.now(UTC) - datetime.fromisoformat(outcome["at"])
        if not settings.retrain_every_days or age < timedelta(days=settings.retrain_every_days):
            return outcome
    return None


def launch_local(settings: Settings, decision: Decision, client: MlflowClient) -> TriggerOutcome:
    """``skillrank run`` in a subprocess under the data root's training lock; reads the gate's verdict."""
    layout = settings.layout
    with training_lock(layout.training_lock, decision.decision_id) as lock:
        if not lock.acquired:
            holder = lock.holder
            return TriggerOutcome(
                decision.decision_id,
                "local",
                False,
                f"a training is running already (pid {holder.get('pid')} for {holder.get('purpose')} since "
                f"{holder.get('since')}): not starting a second one",
            )
        command = retrain_command(settings, write_retrain_settings(settings))
        logger.info("retraining: %s", " ".join(command))
        completed = subprocess.run(command, check=False)
    if completed.returncode != 0:
        return TriggerOutcome(
            decision.decision_id,
            "local",
            True,
            f"skillrank run failed (exit {completed.returncode})",
            exit_code=completed.returncode,
        )
    challenger = version_by_alias(client, settings.model_name, registry.CHALLENGER)
    promoted = None
    if challenger is not None and challenger.run_id:
        tag = client.get_run(challenger.run_id).data.tags.get("gate_promote")
        promoted = None if tag is None else tag == "True"
    verdict = {True: "promoted it to champion", False: "kept the champion", None: "gave no verdict"}[promoted]
    version = challenger.version if challenger is not None else None
    return TriggerOutcome(
        decision.decision_id,
        "local",
        True,
        f"retrained: skillrank run registered v{version} and the gate {verdict}",
        exit_code=0,
        new_version=None if version is None else str(version),
        gate_promote=promoted,
    )


def launch_kfp(settings: Settings, decision: Decision) -> TriggerOutcome:
    """A run of the uploaded training pipeline named for the decision, unless one is still running."""
    client = kfp_client(settings)
    ref = submit.latest_version(client, settings.kfp_training_pipeline)
    experiment = submit.experiment_id(client, settings)
    name = f"retrain-{decision.decision_id}"
    busy = [
        run for run in submit.active_runs(client, experiment, ref.pipeline_id) if run.display_name != name
    ]
    if busy:
        return TriggerOutcome(
            decision.decision_id,
            "kfp",
            False,
            f"training run {busy[0].display_name} ({busy[0].state}) is not done: not starting a second one",
            run_id=busy[0].run_id,
        )
    run = submit.submit_run(client, experiment, ref, name, submit.training_arguments(settings))
    said = "created" if run.created else "exists already"
    return TriggerOutcome(
        decision.decision_id, "kfp", run.created, f"KFP run {name} {said}", run_id=run.run_id
    )


def retrain_command(settings: Settings, config_file: Path) -> list[str]:
    """The ``skillrank run`` command line of a local retrain (the console script of this interpreter)."""
    beside = Path(sys.executable).with_name(COMMAND)
    program = str(beside) if beside.exists() else shutil.which(COMMAND) or COMMAND
    return [
        program,
        "--data-root",
        str(settings.data_root.resolve()),
        "--config",
        str(config_file),
        "run",
        "--source",
        str(Path(settings.source).resolve()),
    ]


def write_retrain_settings(settings: Settings) -> Path:
    """The effective settings as a YAML file for the retrain (secrets left out); returns its path."""
    path = settings.layout.monitoring / "retrain_settings.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    values = settings.model_dump(mode="json", exclude_none=True, exclude=SECRET_FIELDS)
    path.write_text(yaml.safe_dump(values))
    return path


def record_outcome(path: Path, outcome: TriggerOutcome) -> None:
    """Append `outcome` to the trigger log (JSON lines)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        handle.write(json.dumps(outcome.to_dict()) + "\n")


def read_outcomes(path: Path) -> list[dict]:
    """Every outcome of the trigger log, oldest first."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
