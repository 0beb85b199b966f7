"""One typed settings object for every command, component and server.

Values come, in rising priority, from the defaults below, an optional YAML file, environment variables
prefixed ``SKILLRANK_`` (e.g. ``SKILLRANK_DATA_ROOT``) and explicit values (CLI flags), merged by
pydantic-settings' own sources. The same keys work on a laptop and in a cluster (where a ConfigMap sets
the environment).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from components.config.layout import DataLayout
from components.errors import DataError


class Settings(BaseSettings):
    """Configuration of a skillrank deployment.

    Example:
        >>> Settings(data_root="/tmp/sr").mlflow_uri
        'sqlite:////tmp/sr/mlflow.db'
    """

    model_config = SettingsConfigDict(env_prefix="SKILLRANK_", extra="forbid")

    data_root: Path = Field(Path(".skillrank"), description="Where every output of skillrank goes.")
    source: Path | None = Field(None, description="Directory of platform tables in the data contract.")
    mlflow_tracking_uri: str | None = Field(None, description="Defaults to SQLite under data_root.")
    model_name: str = "skillrank"
    experiment_name: str = "skillrank"
    feature_service: str = Field(
        "training_v1", description="The Feast feature service the training frame and batch scoring read."
    )
    online_store: str = Field("sqlite", pattern="^(sqlite|redis)$")
    redis_connection_string: str = "127.0.0.1:6379"
    feast_registry: str | None = Field(
        None, description="SQLAlchemy URL; defaults to SQLite under data_root."
    )
    train_months: int = Field(6, ge=1)
    max_folds: int = Field(6, ge=1)
    n_estimators: int = Field(500, ge=10)
    label: str = Field(
        "auto",
        description="The label the ranker learns: a components.labels.LABEL_TABLE entry, or auto (the "
        "longest the history allows); see docs/SKILL_VS_LUCK.md.",
    )
    ranker_features: str = Field(
        "evidence", pattern="^(evidence|all)$", description="The learner's inputs: evidence features, or all."
    )
    # regression, chosen by `skillrank study --objectives regression,lambdarank` on two worlds: as good
    # against latent skill as lambdarank (NDCG@100 0.278 vs 0.279 and 0.494 vs 0.489) at a fifteenth of
    # its fitting time (docs/SCALING.md, "The first run"); auto fits both and keeps the better by the label.
    objective: str = Field(
        "regression",
        pattern="^(auto|regression|lambdarank)$",
        description="The LightGBM objective; auto: fit both, keep the better by NDCG@100 against the label.",
    )
    query_size: int = Field(
        2000, ge=50, le=10000, description="Accounts per lambdarank query (LightGBM: <= 10000)."
    )
    min_track_record_days: int = Field(63, ge=1)
    concentration_penalty: float = Field(
        1.0, ge=0, description="Score lost per unit of HHI above 0.5 (one or two stocks); fixed at training."
    )
    gate_target: str = Field(
        "auto",
        pattern="^(auto|label|skill)$",
        description="What the gate's NDCG@100 ranks against; auto: skill when truth/ exists, else the label.",
    )
    non_inferiority_margin: float = Field(
        0.01,
        ge=0,
        description="Gate: how far below the champion's NDCG@100 the lower bound of the 95% CI of the "
        "challenger's difference may reach (against the baseline the bound must be above 0).",
    )
    max_top_turnover: float = Field(
        0.5, ge=0, le=1, description="Gate guardrail: most of the top 100 a challenger may replace per month."
    )
    max_portfolio_turnover_ratio: float = Field(
        2.0,
        gt=0,
        description="Gate guardrail: the most the median portfolio turnover of a challenger's top 100 may "
        "be, as a multiple of every account's median (the guard against promoting day-trading).",
    )
    min_trades: int = Field(10, ge=0)
    min_diversification: float = Field(0.2, ge=0, le=1)
    max_candidates: int = Field(1000, ge=1)
    top_k: int = Field(20, ge=1)
    seed: int = 7
    # Cluster: the image compiled pipelines run, and the Spark Operator's executors (docs/DEPLOY.md).
    image: str | None = Field(
        None,
        description="The project image the compiled pipeline's steps run; in a cluster the ConfigMap sets it "
        "to the manifests' (kustomize images:); `skillrank compile` reads manifests/image in a checkout.",
    )
    spark_executor_instances: int = Field(
        4, ge=1, description="Executors of the Spark Operator's feature refresh (its executor.instances)."
    )
    spark_executor_cores: int = Field(
        2, ge=1, description="Cores per executor of the feature refresh (executor.cores and coreLimit)."
    )
    spark_executor_memory: str = Field(
        "6g",
        pattern=r"^[1-9][0-9]*[mg]$",
        description="JVM heap per executor of the feature refresh, as Spark writes it (e.g. 6g, 6144m); "
        "each executor pod asks for Spark's memory overhead on top.",
    )
    spark_submit: str = Field(
        "local",
        pattern="^(local|operator)$",
        description="Where the training pipeline's features step runs Spark: local (in the step's pod) or "
        "operator (a SparkApplication of the Kubeflow Spark Operator, from spark_application_template).",
    )
    spark_application_template: str = Field(
        "skillrank-features",
        description="The ScheduledSparkApplication whose template the features step submits (operator).",
    )
    spark_application_timeout_seconds: float = Field(
        14400.0, gt=0, description="How long the features step waits for its SparkApplication to complete."
    )
    spark_application_poll_seconds: float = Field(
        15.0, gt=0, description="How often the features step reads its SparkApplication's state."
    )
    deploy_target: str = Field("local", pattern="^(local|kserve)$", description="Where `deploy` rolls out.")
    namespace: str = "skillrank"
    inference_service: str = "skillrank"
    # Serving: the feed's KServe servers (docs/SERVING.md).
    serving_poll_seconds: float = Field(
        10.0,
        ge=0,
        description="How often the servers check for a new champion, retrieval index or materialised "
        "features (0: only on POST /v2/repository/models/<name>/load).",
    )
    feed_deadline_seconds: float = Field(
        0.25, gt=0, description="A feed request not answered after this long is a 503 with Retry-After."
    )
    feed_max_in_flight: int = Field(
        256, ge=1, description="Feed requests one server worker runs at once; one more is a 503."
    )
    ab_salt: str = Field(
        "discover-ab-1", min_length=1, description="Salt of the A/B split: a new salt deals viewers anew."
    )
    ab_treatment_share: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Share of viewers in the treatment arm (the model; others: the heuristic).",
    )
    score_cache: str = Field(
        "none",
        pattern="^(none|redis)$",
        description="Where the feed's scores are cached beside memory, for a restart without the predictor "
        "or the online store: redis (at redis_connection_string) or none.",
    )
    prediction_log_stream: str | None = Field(
        None, description="Redis stream (at redis_connection_string) that every served feed is also added to."
    )
    prediction_log_roll_seconds: float = Field(
        60.0, gt=0, description="The prediction log's Parquet files are written at least this often."
    )

    # Monitoring: the windows it watches and the retraining decision (docs/MONITORING.md).
    drift_features: str = Field(
        "hhi,top3_share,n_tickers,sector_count,max_sector_share,index_share,trade_frequency,turnover_12m",
        description="Comma-separated features whose drift the monitor tests against the served model's "
        "training reference: how investors diversify and trade (hhi is the diversification score: 1 - hhi). "
        "Market-driven ones (volatility, beta) move with every market and would drift in a quiet world.",
    )
    drift_method: str = Field(
        "wasserstein",
        pattern="^(wasserstein|psi|ks|jensenshannon)$",
        description="Evidently's per-feature drift test: wasserstein (distance normed by the reference's "
        "standard deviation), psi, ks or jensenshannon.",
    )
    drift_threshold: float = Field(
        0.1, gt=0, description="A feature drifted when its drift score reaches this (ks: a p-value below)."
    )
    drift_share: float = Field(
        0.3, gt=0, le=1, description="A window drifted when at least this share of drift_features drifted."
    )
    score_psi_threshold: float = Field(
        0.25,
        gt=0,
        description="A window drifted when its scores' PSI (on the training scores' deciles) reaches this.",
    )
    drift_windows: int = Field(3, ge=1, description="Retrain when this many consecutive windows drifted.")
    quality_drop_sigmas: float = Field(
        3.0,
        gt=0,
        description="Retrain when a window's proxy or realised quality falls this many standard deviations "
        "below the mean of its own earlier windows.",
    )
    quality_min_history: int = Field(
        4, ge=2, description="Earlier windows a quality or churn series needs before a rule reads it."
    )
    churn_jump: float = Field(
        0.5, gt=0, le=1, description="Retrain when top-10 churn exceeds its earlier windows' median by this."
    )
    retrain_every_days: int = Field(
        7,
        ge=0,
        description="Retrain when the served model is older than this many days (0: never; a cluster's "
        "weekly recurring run, `skillrank submit --recurring`, does it there).",
    )
    retrain_trigger: str = Field(
        "auto",
        pattern="^(auto|local|kfp|none)$",
        description="What a retrain decision launches: local (`skillrank run`, the KFP local runner, one at "
        "a time), kfp (a run of the uploaded training pipeline), none (recorded only); auto: kfp inside a "
        "Kubernetes pod, else local.",
    )
    # Kubeflow Pipelines: where `skillrank submit` and the monitor's trigger create runs.
    kfp_host: str = Field(
        "http://ml-pipeline.kubeflow.svc.cluster.local:8888", description="The Kubeflow Pipelines API."
    )
    kfp_namespace: str | None = Field(
        None, description="The profile namespace of a multi-user Kubeflow (None: single-user)."
    )
    kfp_token: SecretStr | None = Field(
        None, description="Bearer token of the KFP API; set it from a Secret (SKILLRANK_KFP_TOKEN)."
    )
    kfp_token_path: Path | None = Field(
        None,
        description="File of a projected service-account token for the KFP API (audience "
        "pipelines.kubeflow.org), read again whenever it is refreshed; used when kfp_token is not set.",
    )
    kfp_ssl_ca_cert: Path | None = Field(None, description="CA bundle that signs the KFP endpoint's TLS.")
    kfp_experiment: str = Field("skillrank", description="The KFP experiment skillrank's runs go to.")
    kfp_training_pipeline: str = Field(
        "skillrank-training", description="Name of the uploaded training pipeline the trigger runs."
    )
    kfp_training_cron: str = Field(
        "0 0 4 * * 1",
        description="KFP cron (seconds first) of the weekly recurring training run: Mondays 04:00 UTC.",
    )
    kfp_monitoring_cron: str = Field(
        "0 0 6 * * *", description="KFP cron (seconds first) of the daily recurring monitoring run."
    )
    # Fresh features: the Spark Structured Streaming job (components/features/streaming.py).
    stream_source: str = Field(
        "files", pattern="^(files|kafka)$", description="Where trade and snapshot events come from."
    )
    stream_kafka_servers: str | None = Field(
        None, description="Kafka bootstrap servers (host:port,...) when stream_source is kafka."
    )
    stream_trigger_seconds: float = Field(
        10.0, gt=0, description="How often the streaming job starts a micro-batch."
    )

    @field_validator("feast_registry", "mlflow_tracking_uri", "redis_connection_string")
    @classmethod
    def expand_references(cls, value: str | None) -> str | None:
        """Fill in Kubernetes-style ``$(VAR)`` references from the environment.

        Pods get them filled in by Kubernetes; pipeline steps that receive the ConfigMap as env
        vars do not, so a password in a database URL is resolved here, never stored in the map.
        """
        if value is None:
            return None
        return re.sub(r"\$\((\w+)\)", lambda m: os.environ.get(m.group(1), m.group(0)), value)

    @property
    def mlflow_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{self.data_root.resolve()}/mlflow.db"

    @property
    def layout(self) -> DataLayout:
        """The output paths under the (absolute) data root."""
        return DataLayout(self.data_root.resolve())

    @classmethod
    def for_step(cls, data_root: str, config_file: str) -> Settings:
        """Settings inside a pipeline step: the run's data root wins, the config file is optional."""
        return cls.load(Path(config_file) if config_file else None, data_root=data_root)

    @classmethod
    def load(cls, config_file: Path | None = None, **overrides) -> Settings:
        """Build settings: defaults < the YAML file < ``SKILLRANK_*`` environment < `overrides` (flags).

        Overrides that are None (a flag not given) do not count.

        Raises:
            DataError: `config_file` does not exist.
        """
        explicit = {key: value for key, value in overrides.items() if value is not None}
        sources: tuple[PydanticBaseSettingsSource, ...] = (
            InitSettingsSource(cls, init_kwargs=explicit),
            EnvSettingsSource(cls),
        )
        if config_file is not None:
            if not Path(config_file).is_file():
                raise DataError(f"the settings file {config_file} does not exist (--config)")
            sources += (YamlConfigSettingsSource(cls, yaml_file=config_file),)
        return cls(_build_sources=(sources, explicit))

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """``Settings(...)`` itself: explicit values over the environment; no .env or secrets files."""
        return init_settings, env_settings
