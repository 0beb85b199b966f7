"""Settings precedence and the KServe roll-out patch."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from components.config.settings import Settings
from components.release.deploy import VERSION_ANNOTATION, rollout_patch


def test_flags_beat_environment_beat_file(tmp_path, monkeypatch):
    config = tmp_path / "settings.yaml"
    config.write_text("top_k: 3\ntrain_months: 4\nmin_trades: 2\n")
    monkeypatch.setenv("SKILLRANK_TRAIN_MONTHS", "5")
    settings = Settings.load(config, min_trades=7)
    assert (settings.top_k, settings.train_months, settings.min_trades) == (3, 5, 7)


def test_mlflow_defaults_to_sqlite_under_data_root(tmp_path):
    assert Settings(data_root=tmp_path).mlflow_uri == f"sqlite:///{tmp_path}/mlflow.db"


def test_unknown_key_and_bad_value_are_rejected(tmp_path):
    config = tmp_path / "settings.yaml"
    config.write_text("top_kk: 3\n")
    with pytest.raises(ValidationError, match="top_kk"):
        Settings.load(config)
    with pytest.raises(ValidationError, match="online_store"):
        Settings(online_store="memcached")


def test_rollout_patch_annotates_both_components():
    patch = rollout_patch("skillrank", "7")
    assert patch["spec"]["predictor"]["annotations"][VERSION_ANNOTATION] == "7"
    assert patch["spec"]["transformer"]["annotations"][VERSION_ANNOTATION] == "7"


def test_layout_is_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert Settings(data_root=Path("rel")).layout.root == tmp_path / "rel"


def test_database_password_reference_is_filled_from_the_environment(monkeypatch):
    monkeypatch.setenv("POSTGRES_PASSWORD", "s3cret")
    settings = Settings(feast_registry="postgresql+psycopg2://u:$(POSTGRES_PASSWORD)@db:5432/feast")
    assert settings.feast_registry == "postgresql+psycopg2://u:s3cret@db:5432/feast"


def test_settings_survive_the_trip_through_a_step_config_file(tmp_path):
    import yaml

    settings = Settings(data_root=tmp_path, min_track_record_days=100, top_k=3)
    config = tmp_path / "run_settings.yaml"
    config.write_text(yaml.safe_dump(settings.model_dump(mode="json", exclude_none=True)))
    assert Settings.for_step(str(tmp_path), str(config)) == settings


def test_redis_password_reference_is_filled_from_the_environment(monkeypatch):
    monkeypatch.setenv("REDIS_PASSWORD", "s3cret")
    monkeypatch.setenv("SKILLRANK_REDIS_CONNECTION_STRING", "redis:6379,password=$(REDIS_PASSWORD)")
    assert Settings.load().redis_connection_string == "redis:6379,password=s3cret"


def test_missing_settings_file_is_a_data_error(tmp_path):
    from components.errors import DataError

    with pytest.raises(DataError, match="does not exist"):
        Settings.load(tmp_path / "absent.yaml")
