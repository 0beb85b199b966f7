"""The KFP client built from the settings: endpoint, namespace, credentials (against the double of the
KFP v2beta1 API in tests.components.release.kfp_api; no Kubeflow runs here)."""

from __future__ import annotations

import pytest

from components.config.kfp import kfp_client
from components.config.settings import Settings
from tests.components.release.kfp_api import KfpApiDouble


@pytest.fixture
def api():
    with KfpApiDouble() as double:
        yield double


def settings_of(api: KfpApiDouble, **values) -> Settings:
    return Settings(kfp_host=api.url, **values)


def test_the_client_sends_the_bearer_token_of_the_settings(api):
    client = kfp_client(settings_of(api, kfp_token="s3cret", kfp_namespace="team-a"))
    client.get_pipeline_id("skillrank-training")
    [request] = api.requests("GET", "/pipelines")
    assert request.headers["authorization"] == "Bearer s3cret"
    assert not api.requests("GET", "/healthz")  # a namespace given: no discovery call


def test_the_client_reads_a_projected_token_file(api, tmp_path):
    token = tmp_path / "token"
    token.write_text("from-the-kubelet")
    kfp_client(settings_of(api, kfp_token_path=token, kfp_namespace="team-a")).get_pipeline_id("x")
    assert api.requests("GET", "/pipelines")[0].headers["authorization"] == "Bearer from-the-kubelet"


def test_kubeflows_token_path_variable_is_the_fallback(api, tmp_path, monkeypatch):
    token = tmp_path / "token"
    token.write_text("from-the-pod-default")
    monkeypatch.setenv("KF_PIPELINES_SA_TOKEN_PATH", str(token))
    kfp_client(settings_of(api, kfp_namespace="team-a")).get_pipeline_id("x")
    assert api.requests("GET", "/pipelines")[0].headers["authorization"] == "Bearer from-the-pod-default"


def test_without_a_namespace_the_client_asks_the_api_whether_it_is_multi_user(api):
    kfp_client(settings_of(api))
    assert len(api.requests("GET", "/healthz")) == 1
