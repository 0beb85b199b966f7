"""The `skillrank` command: simulate a world, run the pipeline, compile it, serve and query the feed."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from components.config.settings import Settings

DEMO_WORLD = "demo-world"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args) or 0
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        print(f"skillrank {args.command}: error: {e}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="skillrank", description=__doc__)
    parser.add_argument(
        "--config", type=Path, help="YAML settings file (keys of components.config.settings.Settings)"
    )
    parser.add_argument(
        "--data-root", type=Path, help="where outputs go (default: .skillrank or SKILLRANK_DATA_ROOT)"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    simulate = commands.add_parser("simulate", help="write a simulated platform world in the data contract")
    simulate.add_argument("--accounts", type=int, default=20_000, help="number of accounts")
    simulate.add_argument(
        "--start", type=date.fromisoformat, default=date(2019, 1, 1), help="first day, YYYY-MM-DD"
    )
    simulate.add_argument(
        "--end", type=date.fromisoformat, default=date(2021, 12, 31), help="last day, YYYY-MM-DD"
    )
    simulate.add_argument("--seed", type=int, default=7, help="random seed")
    simulate.add_argument("--out", type=Path, help=f"output directory (default: <data root>/{DEMO_WORLD})")
    simulate.set_defaults(handler=cmd_simulate)

    run = commands.add_parser("run", help="run the training pipeline locally with the KFP local runner")
    run.add_argument("--source", type=Path, help="directory in the data contract (default: SKILLRANK_SOURCE)")
    run.set_defaults(handler=cmd_run)

    features = commands.add_parser("features", help="refresh features: ingest, Spark job, Feast publish")
    features.add_argument(
        "--source", type=Path, help="directory in the data contract (default: SKILLRANK_SOURCE)"
    )
    features.set_defaults(handler=cmd_features)

    compile_ = commands.add_parser("compile", help="compile the pipeline to YAML for the Kubeflow UI")
    compile_.add_argument("--output", type=Path, default=Path("skillrank-training.yaml"), help="YAML path")
    compile_.set_defaults(handler=cmd_compile)

    serve = commands.add_parser("serve", help="start the KServe transformer and predictor on loopback")
    serve.add_argument("--transformer-port", type=int, default=8080, help="transformer HTTP port")
    serve.add_argument("--predictor-port", type=int, default=8085, help="predictor HTTP port")
    serve.set_defaults(handler=cmd_serve)

    feed = commands.add_parser("feed", help="query the feed from the transformer and print it")
    feed.add_argument("--top-k", type=int, default=10, help="how many investors")
    feed.add_argument("--url", help="transformer base URL (default: start local servers for this query)")
    feed.set_defaults(handler=cmd_feed)

    monitor = commands.add_parser("monitor", help="Evidently drift report and retrain decision")
    monitor.set_defaults(handler=cmd_monitor)

    study = commands.add_parser(
        "study", help="walk-forward NDCG@100 of each label x feature set x objective, beside the baselines"
    )
    study.add_argument("--labels", default="fwd_alpha_tstat_12m,fwd_sharpe_30d", help="comma-separated")
    study.add_argument("--feature-sets", default="evidence,all", help="comma-separated: evidence, all")
    study.add_argument("--objectives", default="regression", help="comma-separated: regression, lambdarank")
    study.add_argument(
        "--output", type=Path, help="CSV of the table (default: <data root>/reports/study.csv)"
    )
    study.set_defaults(handler=cmd_study)
    return parser


def settings_from(args: argparse.Namespace, **overrides) -> Settings:
    return Settings.load(args.config, data_root=args.data_root, **overrides)


def settings_with_source(args: argparse.Namespace) -> Settings:
    settings = settings_from(args, source=args.source)
    if settings.source is None:
        raise ValueError("no source directory: pass --source DIR or set SKILLRANK_SOURCE")
    return settings


def cmd_simulate(args: argparse.Namespace) -> None:
    from components.simulator.world import simulate_world

    settings = settings_from(args)
    out = args.out or settings.data_root / DEMO_WORLD
    summary = simulate_world(out, args.accounts, args.start, args.end, args.seed)
    print(json.dumps(summary, indent=2, default=str))
    print(f"world written to {out}")


def cmd_run(args: argparse.Namespace) -> None:
    from components.release.run_summary import print_run_summary
    from pipelines.local_run import run_locally

    settings = settings_with_source(args)
    run_locally(settings.source, settings)
    print_run_summary(settings)


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
        settings, args.labels.split(","), args.feature_sets.split(","), args.objectives.split(",")
    )
    output = args.output or settings.layout.reports / "study.csv"
    output.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(output, index=False)
    print(table.round(3).to_string(index=False))
    print(f"study written to {output}")


def cmd_compile(args: argparse.Namespace) -> None:
    from pipelines.compile import compile_training

    print(f"pipeline written to {compile_training(args.output)}")


def cmd_serve(args: argparse.Namespace) -> None:
    from inference.serve import serve

    with serve(
        settings_from(args), transformer_port=args.transformer_port, predictor_port=args.predictor_port
    ):
        url = f"http://127.0.0.1:{args.transformer_port}/v1/models/skillrank:predict"
        print(f"feed: curl -X POST {url} -d '{{}}'")
        print("serving until Ctrl-C")
        try:
            import time

            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


def cmd_feed(args: argparse.Namespace) -> None:
    from pipelines.feed import fetch_feed, format_feed

    print(format_feed(fetch_feed(settings_from(args), args.top_k, args.url)))


def cmd_monitor(args: argparse.Namespace) -> None:
    from monitoring.job import run_monitor

    decision, html = run_monitor(settings_from(args))
    print(json.dumps(decision.to_dict(), indent=2))
    print(f"report: {html}")


if __name__ == "__main__":
    sys.exit(main())
