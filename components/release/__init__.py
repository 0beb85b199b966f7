"""The release of a model: training and registration, the evaluation gate, promotion, deployment, scores.

`train_and_register` evaluates walk-forward and registers the challenger, handing the gate a
`TrainingOutcome`; `decide` (on `gate`) says whether it beats the baseline and the champion,
`record_decision` writes the verdict to MLflow and `promote` moves the `champion` alias;
`deploy_champion` rolls the champion out to KServe; `write_scores` writes the contract's scores/
table with the served model (`serving_version`); `run_summary` tells what a run did.
"""

from components.release.batch_scores import serving_version, write_scores
from components.release.deploy import deploy_champion
from components.release.gate import GateDecision, gate
from components.release.promotion import decide, promote, record_decision
from components.release.run_summary import run_summary
from components.release.training import TrainingOutcome, train_and_register

__all__ = [
    "GateDecision",
    "TrainingOutcome",
    "decide",
    "deploy_champion",
    "gate",
    "promote",
    "record_decision",
    "run_summary",
    "serving_version",
    "train_and_register",
    "write_scores",
]
