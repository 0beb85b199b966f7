"""``feature_repo/`` is a Feast repository: the feast CLI plans it, with the paths skillrank uses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from feature_repo.definitions import DATA_ROOT_ENV, FEATURE_SERVICES
from feature_repo.store import repo_config

REPO = Path(__file__).resolve().parents[2] / "feature_repo"
FEAST = Path(sys.executable).parent / "feast"


@pytest.fixture
def data_root(tmp_path) -> Path:
    """A data root as skillrank lays it out before the first publish: its Feast directory, no features."""
    (tmp_path / "feast").mkdir()
    return tmp_path


def feast_yaml(data_root: Path) -> dict:
    """``feature_store.yaml`` with the data root filled in, as Feast reads it."""
    text = (REPO / "feature_store.yaml").read_text().replace(f"${{{DATA_ROOT_ENV}}}", str(data_root))
    return yaml.safe_load(text)


def test_feast_plan_lists_every_service(data_root):
    env = {**os.environ, DATA_ROOT_ENV: str(data_root)}
    done = subprocess.run(
        [str(FEAST), "-c", str(REPO), "plan"], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    for service in FEATURE_SERVICES:
        assert f"Created feature service {service.name}" in done.stdout
    assert "Created feature view account_monthly_features" in done.stdout
    assert str(data_root / "features") in done.stderr  # the source it validates: under the data root


def test_the_yaml_names_the_stores_skillrank_builds(data_root):
    declared, built = feast_yaml(data_root), repo_config(data_root)
    assert declared["project"] == built.project and declared["provider"] == built.provider
    assert declared["registry"]["path"] == built.registry.path
    assert declared["registry"]["cache_ttl_seconds"] == built.registry.cache_ttl_seconds
    assert declared["online_store"]["path"] == built.online_store.path
    assert declared["entity_key_serialization_version"] == built.entity_key_serialization_version


def test_the_cli_skips_the_modules_that_declare_nothing():
    ignored = (REPO / ".feastignore").read_text().split()
    assert {"store.py", "feature_schema.py"} <= set(ignored)
