"""Thin KFP components: each imports its step from the installed package, calls it, logs metrics.

Bodies stay a few lines because the logic lives in tested plain functions; `base_image` is the
project's image (the package installed), so no `packages_to_install`. The local runner executes the
same bodies in this environment.
"""

from kfp import dsl
from kfp.dsl import HTML, Markdown, Metrics, Output

IMAGE = "ghcr.io/skillrank/skillrank:0.1.0"


@dsl.component(base_image=IMAGE)
def ingest_op(source: str, data_root: str, config_file: str, reconciliation: Output[Metrics]) -> str:
    """Validate the source tables into clean/ and quarantine/; log input = clean + quarantined."""
    import json
    from pathlib import Path

    from components.config.settings import Settings
    from components.contract.ingest import ingest

    settings = Settings.for_step(data_root, config_file)
    counts = ingest(Path(source), settings.layout)
    for table, entry in counts.items():
        for key in ("input", "clean", "quarantined"):
            reconciliation.log_metric(f"{table}_{key}", entry[key])
    return json.dumps(counts)


@dsl.component(base_image=IMAGE)
def features_op(data_root: str, config_file: str) -> str:
    """Spark: point-in-time features and forward labels per account and month-end."""
    import json

    from components.config.settings import Settings
    from components.features.job import build_features

    settings = Settings.for_step(data_root, config_file)
    return json.dumps(build_features(settings.layout), default=str)


@dsl.component(base_image=IMAGE)
def publish_op(data_root: str, config_file: str, features: str) -> str:
    """Feast apply + materialise the latest features online + rebuild the retrieval index."""
    import json

    from components.config.settings import Settings
    from components.store.publish import publish_features

    settings = Settings.for_step(data_root, config_file)
    return json.dumps(publish_features(settings.layout, settings))


@dsl.component(base_image=IMAGE)
def train_op(
    data_root: str, config_file: str, published: str, metrics: Output[Metrics], evaluation: Output[HTML]
) -> str:
    """Walk-forward LightGBM vs baselines, tracked in MLflow, registered as challenger."""
    import json
    import shutil

    from components.config.settings import Settings
    from components.release.training import train_and_register

    settings = Settings.for_step(data_root, config_file)
    outcome = train_and_register(settings.layout, settings)
    for name, value in outcome["summary"].items():
        metrics.log_metric(name, value)
    shutil.copyfile(outcome["report"], evaluation.path)
    return json.dumps(outcome)


@dsl.component(base_image=IMAGE)
def gate_op(data_root: str, config_file: str, outcome: str, verdict: Output[Markdown]) -> bool:
    """Decide whether the challenger beats the baseline and the champion; record it in MLflow."""
    import json
    from pathlib import Path

    from components.config.settings import Settings
    from components.release.promotion import decide, record_decision

    settings = Settings.for_step(data_root, config_file)
    decision = decide(json.loads(outcome), settings)
    record_decision(json.loads(outcome), decision, settings)
    Path(verdict.path).write_text("\n".join(f"- {reason}" for reason in decision.reasons))
    print(("PROMOTE: " if decision.promote else "KEEP CHAMPION: ") + "; ".join(decision.reasons))
    return decision.promote


@dsl.component(base_image=IMAGE)
def promote_op(data_root: str, config_file: str, outcome: str) -> str:
    """Point the `champion` alias at the challenger."""
    import json

    from components.config.settings import Settings
    from components.release.promotion import promote

    settings = Settings.for_step(data_root, config_file)
    version = json.loads(outcome)["version"]
    promote(version, settings)
    return version


@dsl.component(base_image=IMAGE)
def deploy_op(data_root: str, config_file: str, version: str) -> str:
    """Roll the champion out to KServe (cluster) or check that it resolves (local)."""
    import json

    from components.config.settings import Settings
    from components.release.deploy import deploy_champion

    settings = Settings.for_step(data_root, config_file)
    return json.dumps(deploy_champion(settings))


@dsl.component(base_image=IMAGE)
def scores_op(data_root: str, config_file: str, after: str) -> str:
    """Write the contract's scores/ table for every walk-forward test date and the latest date."""
    import json

    from components.config.settings import Settings
    from components.release.batch_scores import write_scores

    settings = Settings.for_step(data_root, config_file)
    return json.dumps(write_scores(settings.layout, settings))
