"""The `skillrank` command: simulate a world, run the pipeline, compile it, serve and query the feed."""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
from datetime import date
from pathlib import Path

from pydantic import ValidationError

from components.config.settings import Settings
from components.console import configure_logging
from components.errors import DataError
from components.simulator.params import WorldParams

DEMO_WORLD = "demo-world"
EXIT_USER_ERROR = 2
# What a user can fix (a table, column, file, flag or setting; a step that must run first) is one
# line and exit 2; anything else is a bug and keeps its traceback.
USER_ERRORS = (DataError, ValidationError, FileNotFoundError, RuntimeError)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level)
    try:
        return args.handler(args) or 0
    except USER_ERRORS as e:
        print(f"skillrank {args.command}: error: {one_line(e)}", file=sys.stderr)
        return EXIT_USER_ERROR


def one_line(error: Exception) -> str:
    """The error as one line; a settings validation error names each bad key.

    Example:
        >>> one_line(DataError("the feature table lacks ['hhi']"))
        "the feature table lacks ['hhi']"
    """
    if isinstance(error, ValidationError):
        return "invalid settings: " + "; ".join(
            f"{'.'.join(map(str, item['loc'])) or 'settings'}: {item['msg']}" for item in error.errors()
        )
    return " ".join(str(error).split())


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every flag's default from the code; a flag without one (None) says in its help what stands in."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        return action.help if action.default is None else super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="skillrank", description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument(
        "--config", type=Path, help="YAML settings file (keys of components.config.settings.Settings)"
    )
    parser.add_argument(
        "--data-root",
        type=Path,
        help="where outputs go (default: SKILLRANK_DATA_ROOT, else "
        f"{Settings.model_fields['data_root'].default})",
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="log level"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    simulate = add_command(commands, "simulate", help="write a simulated platform world in the data contract")
    simulate.add_argument("--accounts", type=int, default=20_000, help="number of accounts")
    simulate.add_argument(
        "--start", type=date.fromisoformat, default=date(2019, 1, 1), help="first day, YYYY-MM-DD"
    )
    simulate.add_argument(
        "--end", type=date.fromisoformat, default=date(2021, 12, 31), help="last day, YYYY-MM-DD"
    )
    simulate.add_argument("--seed", type=int, default=7, help="random seed")
    simulate.add_argument(
        "--skill-prevalence",
        type=float,
        default=round(WorldParams().skill_prevalence, 6),
        help="share of accounts with any skill, 2/3 of them positive (0: a world where nobody is skilled)",
    )
    simulate.add_argument(
        "--no-faults", action="store_true", help="write the clean world, without the faults of real feeds"
    )
    simulate.add_argument("--out", type=Path, help=f"output directory (default: <data root>/{DEMO_WORLD})")
    simulate.set_defaults(handler=cmd_simulate)

    run = add_command(commands, "run", help="run the training pipeline locally with the KFP local runner")
    run.add_argument("--source", type=Path, help="directory in the data contract (default: SKILLRANK_SOURCE)")
    run.set_defaults(handler=cmd_run)

    features = add_command(commands, "features", help="refresh features: ingest, Spark job, Feast publish")
    features.add_argument(
        "--source", type=Path, help="directory in the data contract (default: SKILLRANK_SOURCE)"
    )
    features.set_defaults(handler=cmd_features)

    compile_ = add_command(commands, "compile", help="compile the pipeline to YAML for the Kubeflow UI")
    compile_.add_argument("--output", type=Path, default=Path("skillrank-training.yaml"), help="YAML path")
    compile_.add_argument(
        "--image",
        help="image every step runs (default: manifests/image/kustomization.yaml, else SKILLRANK_IMAGE)",
    )
    compile_.set_defaults(handler=cmd_compile)

    serve = add_command(commands, "serve", help="start the KServe transformer and predictor on loopback")
    serve.add_argument("--transformer-port", type=int, default=8080, help="transformer HTTP port")
    serve.add_argument("--predictor-port", type=int, default=8085, help="predictor HTTP port")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes per server (one per free core; see docs/SERVING.md)",
    )
    serve.set_defaults(handler=cmd_serve)

    feed = add_command(commands, "feed", help="query the feed from the transformer and print it")
    feed.add_argument("--top-k", type=int, default=10, help="how many investors")
    feed.add_argument("--url", help="transformer base URL (default: start local servers for this query)")
    feed.set_defaults(handler=cmd_feed)

    monitor = add_command(
        commands,
        "monitor",
        help="drift, proxy and realised labels, top-10 churn of the served model -> decision -> retrain",
    )
    monitor.add_argument(
        "--until-retrain",
        action="store_true",
        help="replay the served windows in order and stop at the first that retrains (else: the latest)",
    )
    monitor.add_argument("--no-trigger", action="store_true", help="decide and report only; launch nothing")
    monitor.add_argument(
        "--source",
        type=Path,
        help="directory in the data contract a retrain reads (default: SKILLRANK_SOURCE)",
    )
    monitor.add_argument("--version", help="registered version to monitor (default: the one the feed serves)")
    monitor.set_defaults(handler=cmd_monitor)

    submit = add_command(
        commands, "submit", help="upload a pipeline to Kubeflow Pipelines and create a run, or its schedule"
    )
    submit.add_argument("--pipeline", choices=["training", "monitoring"], default="training", help="which")
    submit.add_argument("--package", type=Path, help="compiled pipeline YAML (default: compile it now)")
    submit.add_argument(
        "--recurring",
        action="store_true",
        help="keep its recurring run instead (training: kfp_training_cron, weekly; monitoring: "
        "kfp_monitoring_cron, daily), created once, replaced when the version or schedule changes",
    )
    submit.add_argument(
        "--source", type=Path, help="platform tables the run reads (default: SKILLRANK_SOURCE)"
    )
    submit.add_argument("--run-name", help="the run's name (default: <pipeline>-<UTC time>)")
    submit.set_defaults(handler=cmd_submit)

    study = add_command(
        commands,
        "study",
        help="walk-forward NDCG@100 and Precision@100 of each label x feature set x objective, and of "
        "the evidence inputs plus each addition, beside the baselines",
    )
    study.add_argument("--labels", default="fwd_alpha_tstat_12m,fwd_sharpe_30d", help="comma-separated")
    study.add_argument("--feature-sets", default="evidence,all", help="comma-separated: evidence, all")
    study.add_argument("--objectives", default="regression", help="comma-separated: regression, lambdarank")
    study.add_argument(
        "--additions",
        help="comma-separated: each adds a row of the evidence inputs plus it, a group of "
        "components.ranking.study.ADDITIONS (post_trade_tstat_inception, post_trade_mean_12m, ...) "
        "or any feature name (default: none)",
    )
    study.add_argument(
        "--output", type=Path, help="CSV of the table (default: <data root>/reports/study.csv)"
    )
    study.set_defaults(handler=cmd_study)
    return parser


def add_command(commands, name: str, help: str) -> argparse.ArgumentParser:
    """A sub-command whose --help shows each flag's default, taken from the code."""
    return commands.add_parser(name, help=help, description=help, formatter_class=HelpFormatter)


def settings_from(args: argparse.Namespace, **overrides) -> Settings:
    return Settings.load(args.config, data_root=args.data_root, **overrides)


def settings_with_source(args: argparse.Namespace) -> Settings:
    settings = settings_from(args, source=args.source)
    if settings.source is None:
        raise DataError("no source directory: pass --source DIR or set SKILLRANK_SOURCE")
    return settings


def cmd_simulate(args: argparse.Namespace) -> None:
    from components.simulator.world import simulate_world

    settings = settings_from(args)
    out = args.out or settings.data_root / DEMO_WORLD
    try:
        params = WorldParams.with_skill_prevalence(args.skill_prevalence)
    except ValueError as e:
        raise DataError(f"--skill-prevalence: {e}") from e
    summary = simulate_world(
        out, args.accounts, args.start, args.end, args.seed, inject_faults=not args.no_faults, params=params
    )
    print(json.dumps(summary, indent=2, default=str))
    print(f"world written to {out}")


def cmd_run(args: argparse.Namespace) -> None:
    from components.config.tracking import mlflow_client
    from components.release.run_summary import run_summary
    from pipelines.local_run import run_locally

    settings = settings_with_source(args)
    run_locally(settings.source, settings)
    print(run_summary(settings, mlflow_client(settings)))


def cmd_features(args: argparse.Namespace) -> None:
    from components.contract.ingest import ingest
    from components.features.job import build_features
    from components.store.publish import publish_features
    from pipelines.local_run import check_source

    settings = settings_with_source(args)
    check_source(settings.source, settings.data_root)
    print(json.dumps(ingest(settings.source, settings.layout), default=str))
    print(json.dumps(build_features(settings.layout), default=str))
    print(json.dumps(publish_features(settings.layout, settings)))


def cmd_study(args: argparse.Namespace) -> None:
    from components.ranking.study import run_study

    settings = settings_from(args)
    table = run_study(
        settings,
        args.labels.split(","),
        args.feature_sets.split(","),
        args.objectives.split(","),
        [name for name in (args.additions or "").split(",") if name],
    )
    output = args.output or settings.layout.reports / "study.csv"
    output.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(output, index=False)
    print(table.round(3).to_string(index=False))
    print(f"study written to {output}")


def cmd_compile(args: argparse.Namespace) -> None:
    from pipelines.compile import compile_training, default_image

    image = args.image or default_image(settings_from(args).image)
    print(f"pipeline written to {compile_training(args.output, image)}, steps on {image}")


def cmd_serve(args: argparse.Namespace) -> None:
    from inference.serve import serve, wait_until_stopped

    settings = settings_from(args)
    # A SIGTERM while the servers start (before `wait_until_stopped` takes the signal over) stops them too.
    signal.signal(signal.SIGTERM, stop_starting)
    with serve(
        settings,
        transformer_port=args.transformer_port,
        predictor_port=args.predictor_port,
        workers=args.workers,
    ) as servers:
        url = f"{servers.url}/v1/models/{settings.model_name}:predict"
        print(f'feed: curl -X POST {url} -d \'{{"viewer_id": "u-1", "top_k": 10}}\'')
        print("serving until Ctrl-C or SIGTERM")
        wait_until_stopped(servers)


def stop_starting(*_) -> None:
    """SIGTERM during start-up: leave `serve`, which stops the servers it started, and exit 0."""
    raise SystemExit(0)


def cmd_feed(args: argparse.Namespace) -> None:
    from pipelines.feed import fetch_feed, format_feed

    print(format_feed(fetch_feed(settings_from(args), args.top_k, args.url)))


def cmd_monitor(args: argparse.Namespace) -> None:
    from components.config.tracking import mlflow_client
    from monitoring.job import run_monitor

    settings = settings_from(args, source=args.source)
    outcome = run_monitor(
        settings,
        mlflow_client(settings),
        args.version,
        until_retrain=args.until_retrain,
        trigger=not args.no_trigger,
    )
    for decision in outcome.decisions[:-1]:
        verdict = "retrain" if decision.retrain else "keep"
        print(f"{decision.window}: {verdict} ({'; '.join(decision.reasons)})")
    print(outcome.decision.to_json())
    if outcome.trigger is not None:
        print(f"trigger ({outcome.trigger.mode}): {outcome.trigger.reason}")
    print(f"report: {outcome.report}")


def cmd_submit(args: argparse.Namespace) -> None:
    import tempfile
    from datetime import UTC, datetime

    from components.config.kfp import kfp_client
    from components.release import submit
    from pipelines.compile import compile_monitoring, compile_training, default_image
    from pipelines.monitoring import PIPELINE_NAME as MONITORING

    settings = settings_from(args, source=args.source)
    training = args.pipeline == "training"
    name = settings.kfp_training_pipeline if training else MONITORING
    arguments = (
        submit.training_arguments(settings)
        if training
        else {"data_root": str(settings.data_root), "source": str(settings.source or "")}
    )
    client = kfp_client(settings)
    with tempfile.TemporaryDirectory() as tmp:
        compile_ = compile_training if training else compile_monitoring
        package = args.package or compile_(Path(tmp) / f"{name}.yaml", default_image(settings.image))
        ref = submit.upload_pipeline(client, package, name)
    experiment = submit.experiment_id(client, settings)
    if args.recurring:
        cron = settings.kfp_training_cron if training else settings.kfp_monitoring_cron
        run = submit.ensure_recurring_run(client, experiment, ref, f"{name}-recurring", cron, arguments)
    else:
        run_name = args.run_name or f"{name}-{datetime.now(UTC):%Y%m%d-%H%M%S}"
        run = submit.submit_run(client, experiment, ref, run_name, arguments)
    print(json.dumps({"pipeline": name, "version": ref.version_name} | dataclasses.asdict(run), indent=2))


if __name__ == "__main__":
    sys.exit(main())
