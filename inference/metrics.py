"""The servers' own Prometheus metrics, beside those KServe already exposes on ``/metrics``.

KServe times each stage of a request per model (``request_preprocess_seconds``,
``request_predict_seconds``, ``request_postprocess_seconds``); these add what it cannot know: which
model version is served, reloads, how the feed was answered (arm, degraded), fallbacks by cause (of
the snapshot, and of the intraday read),
snapshot builds by stage, the score cache, the prediction log and errors by cause. Like KServe's
(`kserve.metrics`), they are module-level objects of prometheus_client's default registry, which is
what its ``/metrics`` route exposes. With ``--workers`` above 1 each worker answers for itself.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MODEL_VERSION = Gauge(
    "skillrank_model_version",
    "The model version served (the value; 0 before a model is loaded).",
    ["model_name"],
)
RELOADS = Counter(
    "skillrank_reloads_total",
    "Reloads of a model or of the feed's snapshot, by outcome.",
    ["model_name", "outcome"],
)
REQUEST_ERRORS = Counter(
    "skillrank_request_errors_total",
    "Requests answered with an error, by HTTP status and cause.",
    ["status", "cause"],
)
FEEDS = Counter(
    "skillrank_feeds_total", "Feeds served, by A/B arm and whether degraded.", ["arm", "degraded"]
)
FALLBACKS = Counter(
    "skillrank_feed_fallbacks_total",
    "Times the feed kept or restored a snapshot instead of building one, by cause.",
    ["cause"],
)
SNAPSHOT_SECONDS = Histogram(
    "skillrank_snapshot_build_seconds",
    "Seconds per stage of building the feed's snapshot (features, predictor, finalize, total).",
    ["stage"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
SNAPSHOT_AGE = Gauge(
    "skillrank_snapshot_built_timestamp_seconds", "When the served snapshot was built (Unix time)."
)
SCORE_CACHE = Counter(
    "skillrank_score_cache_total", "Reads and writes of the Redis score cache.", ["operation", "result"]
)
LOGGED_FEEDS = Counter(
    "skillrank_prediction_log_total",
    "Feeds written to the prediction log, by sink and outcome.",
    ["sink", "outcome"],
)
INTRADAY_FALLBACKS = Counter(
    "skillrank_intraday_fallbacks_total",
    "Intraday reads that failed, the feed keeping the last intraday values, by cause.",
    ["cause"],
)
