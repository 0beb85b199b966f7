"""Robustness across worlds: simulate each world of a fixed list, run the real pipeline on it, tabulate.

Each world gets its own directory under ``--out``: ``source/`` (the simulated platform) and ``data/``
(the data root of its run, so MLflow, Feast and scores never mix between worlds). The settings are the
defaults, the same for every world; nothing is tuned per world. A world whose run finished is not run
again (delete its directory to redo it), so the command resumes where it stopped.

    nice -n 10 .venv/bin/python -m pipelines.worlds --out /tmp/worlds --accounts 5000

writes ``worlds.md``, ``worlds.csv`` and ``worlds.json`` under ``--out``: per world the model's NDCG@100
against latent skill beside the ceiling, a random order and every baseline, the model / best baseline
ratio, the model's share of the ceiling, Precision@100, the gambler share of the top 100 of the model
and of the best baseline, the calibration error of the probability of skill and the gate's verdict.
In a world without skill, NDCG against skill is undefined; its row has the share of the model's top 10
that passes the FDR test and their mean probability of skill instead.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
from mlflow import MlflowClient

from components.config import registry
from components.config.layout import DataLayout
from components.config.settings import Settings
from components.config.tracking import mlflow_client
from components.console import configure_logging
from components.ranking.baselines import BASELINES, REQUIRED_COLUMNS, baseline_scores
from components.release.training import predictions_path
from components.store.feast_io import read_point_in_time_table
from feature_repo.feature_schema import ENTITY_KEY, EVENT_TIMESTAMP

logger = logging.getLogger(__name__)

K = 100
TOP_FEED = 10
DONE = ".done"


@dataclass(frozen=True)
class World:
    """One world to simulate: its seed, period, share of skilled accounts and whether feeds are faulty."""

    name: str
    seed: int
    start: str
    end: str
    prevalence: float = 0.3
    faults: bool = True

    @property
    def label(self) -> str:
        """How the table names the world.

        Example:
            >>> World("w", 11, "1999-01-01", "2003-12-31").label
            'seed 11, 1999–2003, prevalence 0.3, faults'
        """
        faults = "faults" if self.faults else "no faults"
        return f"seed {self.seed}, {self.start[:4]}–{self.end[:4]}, prevalence {self.prevalence:g}, {faults}"


WORLDS = [  # in the order they run: if time is short, the last ones are dropped
    World("default-7", 7, "2019-01-01", "2021-12-31"),
    World("crisis-13", 13, "2006-01-01", "2010-12-31"),
    World("dotcom-11", 11, "1999-01-01", "2003-12-31"),
    World("no-skill-19", 19, "2019-01-01", "2021-12-31", prevalence=0.0),
    World("rare-skill-17", 17, "2018-01-01", "2021-12-31", prevalence=0.1),
    World("clean-7", 7, "2019-01-01", "2021-12-31", faults=False),
]


# --- running a world -------------------------------------------------------------------------------


def skillrank(*args: str, log: Path) -> None:
    """Run one `skillrank` command in its own process (its own MLflow, Feast and Spark state)."""
    with log.open("a") as out:
        done = subprocess.run([sys.executable, "-m", "pipelines.cli", *args], stdout=out, stderr=out)
    if done.returncode != 0:
        raise RuntimeError(f"skillrank {args[2] if args[0] == '--data-root' else args[0]} failed: see {log}")


def simulate_args(world: World, accounts: int, source: Path) -> list[str]:
    """The `skillrank simulate` flags of a world.

    Example:
        >>> simulate_args(World("w", 7, "2019-01-01", "2021-12-31", faults=False), 3000, Path("s"))[-2:]
        ['s', '--no-faults']
    """
    args = ["simulate", "--accounts", str(accounts), "--start", world.start, "--end", world.end]
    args += ["--seed", str(world.seed), "--skill-prevalence", str(world.prevalence), "--out", str(source)]
    return args + ([] if world.faults else ["--no-faults"])


def run_world(world: World, accounts: int, directory: Path) -> None:
    """Simulate the world and run the training pipeline on it, unless a finished run is there."""
    if (directory / DONE).exists():
        logger.info("%s: already run, kept (delete %s to run it again)", world.name, directory)
        return
    directory.mkdir(parents=True, exist_ok=True)
    log = directory / "run.log"
    logger.info("%s: simulating %d accounts (%s), log %s", world.name, accounts, world.label, log)
    skillrank(*simulate_args(world, accounts, directory / "source"), log=log)
    logger.info("%s: running the pipeline", world.name)
    skillrank("--data-root", str(directory / "data"), "run", "--source", str(directory / "source"), log=log)
    (directory / DONE).write_text(json.dumps(asdict(world) | {"accounts": accounts}))


# --- reading a finished world ----------------------------------------------------------------------


def challenger_run_data(settings: Settings, client: MlflowClient):
    """Metrics and tags of the run that trained the challenger (the world's only training run)."""
    challenger = client.get_model_version_by_alias(settings.model_name, registry.CHALLENGER)
    return client.get_run(challenger.run_id).data


def ndcg(metrics: dict[str, float], scorer: str | None, family: str = "eval_") -> float:
    """A scorer's NDCG@100 against skill: ``eval_`` the evaluation report's mean over the test dates,
    ``mean_`` the walk-forward's mean of its per-fold figures (what the gate compares); NaN if absent."""
    return metrics.get(f"{family}{scorer}_vs_skill_ndcg_at_{K}", float("nan"))


def best_baseline(metrics: dict[str, float], family: str = "eval_") -> str | None:
    """The baseline of highest NDCG@100 against skill (None in a world without skill)."""
    baselines = pd.Series({name: ndcg(metrics, name, family) for name in BASELINES}).dropna()
    return None if baselines.empty else str(baselines.idxmax())


def ranking_figures(metrics: dict[str, float]) -> dict[str, float | str | None]:
    """NDCG@100 against skill of the model, the ceiling, a random order and every baseline (the
    evaluation report's), the best baseline, the ratio (also of the walk-forward fold means),
    the share of the ceiling, Precision@100 and the calibration error.

    Example:
        >>> m = {f"eval_{s}_vs_skill_ndcg_at_100": v for s, v in [("model", .6), ("ceiling", .8),
        ...     ("random", .03), ("psr", .4), ("roi_log_days", .5)]}
        >>> figures = ranking_figures(m | {"mean_model_vs_skill_ndcg_at_100": .6,
        ...     "mean_psr_vs_skill_ndcg_at_100": .3})
        >>> figures["best_baseline"], round(figures["model_over_best_baseline"], 2)
        ('roi_log_days', 1.2)
        >>> round(figures["model_over_best_baseline_fold_means"], 2)
        2.0
    """
    best, best_by_folds = best_baseline(metrics), best_baseline(metrics, "mean_")
    model = ndcg(metrics, "model")

    def precision(scorer: str | None) -> float:  # undefined, like NDCG, where nobody is skilled
        value = metrics.get(f"eval_{scorer}_vs_skill_precision_at_{K}", float("nan"))
        return value if best else float("nan")

    return {scorer: ndcg(metrics, scorer) for scorer in ("model", "ceiling", "random", *BASELINES)} | {
        "best_baseline": best,
        "model_over_best_baseline": model / ndcg(metrics, best),
        "model_over_best_baseline_fold_means": ndcg(metrics, "model", "mean_")
        / ndcg(metrics, best_by_folds, "mean_"),
        "share_of_ceiling": model / ndcg(metrics, "ceiling"),
        "precision_model": precision("model"),
        "precision_best_baseline": precision(best),
        "calibration_ece": metrics.get("calibration_ece", float("nan")),
    }


def scores_at_test_dates(layout: DataLayout) -> pd.DataFrame:
    """Every account of every walk-forward test date with the model's out-of-sample score (``model``)
    and each baseline's score, computed from the same date's features."""
    keys = [ENTITY_KEY, EVENT_TIMESTAMP]
    predictions = pd.read_parquet(predictions_path(layout), columns=[*keys, "raw_score"])
    needed = sorted({column for columns in REQUIRED_COLUMNS.values() for column in columns})
    features = read_point_in_time_table(layout.features, [*keys, *needed])
    features = predictions.rename(columns={"raw_score": "model"}).merge(features, on=keys)
    return features[[*keys, "model"]].join(baseline_scores(features))


def top_of_each_date(frame: pd.DataFrame, column: str, k: int) -> pd.DataFrame:
    """The `k` rows of highest `column` of each as-of date."""
    return frame.sort_values(column, ascending=False, kind="stable").groupby(EVENT_TIMESTAMP).head(k)


def archetype_share_of_top(
    scores: pd.DataFrame, truth: pd.DataFrame, scorers: list[str], archetype: str = "gambler", k: int = K
) -> dict[str, float]:
    """Per scorer, the share of `archetype` among its top `k` of each date, averaged over the dates.

    Example:
        >>> scores = pd.DataFrame({"account_id": list("abcd"), "as_of_date": 1, "model": [4, 3, 2, 1]})
        >>> truth = pd.DataFrame({"account_id": list("abcd"), "archetype": ["gambler", "skilled"] * 2})
        >>> archetype_share_of_top(scores, truth, ["model"], k=2)
        {'model': 0.5}
    """
    frame = scores.merge(truth[[ENTITY_KEY, "archetype"]], on=ENTITY_KEY, how="left")
    frame["hit"] = frame["archetype"].eq(archetype)
    return {
        scorer: float(top_of_each_date(frame, scorer, k).groupby(EVENT_TIMESTAMP)["hit"].mean().mean())
        for scorer in scorers
    }


def feed_top(scores: pd.DataFrame, dates: list, k: int = TOP_FEED) -> dict[str, float]:
    """The feed's top `k` (scores/, by score) of the test dates: the share that passes the FDR test and
    their mean probability of skill, averaged over the dates.

    Example:
        >>> from datetime import date
        >>> scores = pd.DataFrame({"as_of_date": date(2021, 6, 30), "score": [3, 2, 1],
        ...     "fdr_pass": [True, False, False], "probability_of_skill": [0.9, 0.5, 0.1]})
        >>> feed_top(scores, [pd.Timestamp("2021-06-30")], k=2)
        {'top10_fdr_pass_share': 0.5, 'top10_mean_probability_of_skill': 0.7}
    """
    scores = scores.assign(**{EVENT_TIMESTAMP: pd.to_datetime(scores[EVENT_TIMESTAMP])})  # scores/ has dates
    top = top_of_each_date(scores[scores[EVENT_TIMESTAMP].isin(dates)], "score", k)
    top = top[[EVENT_TIMESTAMP, "fdr_pass", "probability_of_skill"]].astype({"fdr_pass": float})
    top = top.groupby(EVENT_TIMESTAMP).mean()
    return {
        f"top{TOP_FEED}_fdr_pass_share": float(top["fdr_pass"].mean()),
        f"top{TOP_FEED}_mean_probability_of_skill": float(top["probability_of_skill"].mean()),
    }


def gate_verdict(tags: dict[str, str]) -> str:
    """``promoted``, ``kept (<the rule that failed>)``, or ``not run``.

    Example:
        >>> gate_verdict({"gate_promote": "False", "gate_rule": "baseline"}), gate_verdict({})
        ('kept (baseline)', 'not run')
    """
    if "gate_promote" not in tags:
        return "not run"
    return "promoted" if tags["gate_promote"] == "True" else f"kept ({tags.get('gate_rule')})"


def world_row(world: World, directory: Path) -> dict:
    """The table's row of a world, read from its MLflow store, scores/ and truth/.

    A run that stopped after training (no scores/) still has its row: the feed's columns are blank and
    ``run`` says where it stopped.
    """
    settings = Settings.load(None, data_root=directory / "data")
    layout = settings.layout
    data = challenger_run_data(settings, mlflow_client(settings))
    figures = ranking_figures(data.metrics)
    scores = scores_at_test_dates(layout)
    truth = pd.read_parquet(layout.clean("truth"), columns=[ENTITY_KEY, "archetype"])
    scorers = ["model", *([figures["best_baseline"]] if figures["best_baseline"] else [])]
    gamblers = archetype_share_of_top(scores, truth, scorers)
    dates = scores[EVENT_TIMESTAMP].unique().tolist()
    return {
        "world": world.label,
        "label": data.params.get("label"),
        "test_dates": len(dates),
        **figures,
        "gambler_share_model": gamblers["model"],
        "gambler_share_best_baseline": gamblers.get(figures["best_baseline"], float("nan")),
        **(feed_top(pd.read_parquet(layout.scores), dates) if layout.scores.exists() else {}),
        "gate": gate_verdict(data.tags),
        "run": "finished" if (directory / DONE).exists() else "stopped after training: see run.log",
    }


# --- the table -------------------------------------------------------------------------------------

COLUMNS = {  # row key -> the Markdown table's header
    "world": "world",
    "label": "label",
    "test_dates": "test dates",
    "model": "model",
    "ceiling": "ceiling",
    "random": "random",
    **{name: name for name in BASELINES},
    "best_baseline": "best baseline",
    "model_over_best_baseline": "model / best baseline",
    "model_over_best_baseline_fold_means": "same, fold means",
    "share_of_ceiling": "share of ceiling",
    "precision_model": "P@100 model",
    "precision_best_baseline": "P@100 best baseline",
    "gambler_share_model": "gamblers in top 100, model",
    "gambler_share_best_baseline": "gamblers in top 100, best baseline",
    "calibration_ece": "ECE",
    f"top{TOP_FEED}_fdr_pass_share": f"FDR pass, top {TOP_FEED}",
    f"top{TOP_FEED}_mean_probability_of_skill": f"P(skill), top {TOP_FEED}",
    "gate": "gate",
    "run": "run",
}


def markdown_table(rows: list[dict]) -> str:
    """The Markdown table of the world rows (NDCG@100 against skill unless the header says otherwise).

    Example:
        >>> print(markdown_table([{"world": "w", "model": 0.61234, "gate": "promoted"}]).splitlines()[2])
        | w       |   0.612 | promoted |
    """
    frame = pd.DataFrame(rows).reindex(columns=[c for c in COLUMNS if any(c in row for row in rows)])
    frame = frame.astype(object).where(frame.notna(), None)  # NaN is undefined here, shown as a dash
    return frame.rename(columns=COLUMNS).to_markdown(index=False, floatfmt=".3f", missingval="–")


def write_table(rows: list[dict], out: Path) -> Path:
    """``worlds.md``, ``worlds.csv`` and ``worlds.json`` under `out`; returns the Markdown file."""
    pd.DataFrame(rows).to_csv(out / "worlds.csv", index=False)
    (out / "worlds.json").write_text(json.dumps(rows, indent=2, default=str))
    markdown = out / "worlds.md"
    markdown.write_text(markdown_table(rows) + "\n")
    return markdown


def tabulate(finished: list[World], out: Path) -> list[dict]:
    """The rows of the worlds that ran; a world that cannot be read is logged and left out."""
    rows = []
    for world in finished:
        try:
            rows.append(world_row(world, out / world.name))
        except Exception:  # the other worlds' rows still get written
            logger.exception("%s: its outputs could not be read", world.name)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.worlds", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="one directory per world goes here")
    parser.add_argument("--accounts", type=int, default=5000, help="accounts per world")
    parser.add_argument(
        "--worlds", default=",".join(w.name for w in WORLDS), help="comma-separated names, in this order"
    )
    parser.add_argument("--table-only", action="store_true", help="only tabulate the worlds already run")
    args = parser.parse_args(argv)
    configure_logging()
    by_name = {world.name: world for world in WORLDS}
    selected = [by_name[name] for name in args.worlds.split(",")]
    for world in [] if args.table_only else selected:
        try:
            run_world(world, args.accounts, args.out / world.name)
        except RuntimeError as e:  # one world failing leaves the others to run
            logger.error("%s: %s", world.name, e)
    rows = tabulate([w for w in selected if (args.out / w.name / "data").exists()], args.out)
    print(f"table written to {write_table(rows, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
