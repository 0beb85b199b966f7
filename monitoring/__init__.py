"""Monitoring of the served model: what the feed showed, drift, proxy and realised labels, churn, the
retraining decision and its trigger (docs/MONITORING.md).

`monitoring.job.run_monitor` runs every step in one process (``skillrank monitor``); its steps
(`record_step`, `drift_step`, `proxy_step`, `realised_step`, `churn_step`, `decision_step`,
`trigger_step`) are the bodies of the thin components in `monitoring.kfp_ops`, which
``pipelines/monitoring.py`` wires into a KFP pipeline. The pieces: `monitoring.served` (the feed's
record, the served model), `monitoring.drift` (Evidently, PSI on the training deciles),
`monitoring.proxy`, `monitoring.realised`, `monitoring.churn` (the series), `monitoring.decision` (the
policy), `monitoring.trigger` (the retrain), `monitoring.tracking` (MLflow) and `monitoring.report`.
Nothing is imported here, so that reading the components (to compile a pipeline) stays light.
"""
