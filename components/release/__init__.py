"""The release of a model: training and registration, the evaluation gate, promotion, deployment, scores.

`train_and_register` evaluates walk-forward and registers the challenger, handing the gate a
`TrainingOutcome`; `decide` (on `gate`) says whether it beats the baseline and the champion,
`record_decision` writes the verdict to MLflow and `promote` moves the `champion` alias;
`deploy_champion` rolls the champion out to KServe; `write_scores` writes the contract's scores/
table with the served model (`serving_version`); `run_summary` tells what a run did.
"""

from components.lazy import lazy_exports

_EXPORTS = {
    "GateDecision": "components.release.gate",
    "TrainingOutcome": "components.release.training",
    "decide": "components.release.promotion",
    "deploy_champion": "components.release.deploy",
    "gate": "components.release.gate",
    "promote": "components.release.promotion",
    "record_decision": "components.release.promotion",
    "run_summary": "components.release.run_summary",
    "serving_version": "components.release.batch_scores",
    "train_and_register": "components.release.training",
    "write_scores": "components.release.batch_scores",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
