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

from pydantic import Field, field_validator
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
    objective: str = Field(
        "auto", pattern="^(auto|regression|lambdarank)$", description="auto: keep the better"
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
    max_top_turnover: float = Field(
        0.5, ge=0, le=1, description="Gate guardrail: most of the top 100 a challenger may replace per month."
    )
    min_trades: int = Field(10, ge=0)
    min_diversification: float = Field(0.2, ge=0, le=1)
    max_candidates: int = Field(1000, ge=1)
    top_k: int = Field(20, ge=1)
    seed: int = 7
    deploy_target: str = Field("local", pattern="^(local|kserve)$", description="Where `deploy` rolls out.")
    namespace: str = "skillrank"
    inference_service: str = "skillrank"

    @field_validator("feast_registry", "mlflow_tracking_uri")
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
