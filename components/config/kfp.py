"""Settings -> Kubeflow Pipelines: the one place a `kfp.Client` is built.

The endpoint is ``kfp_host`` (in a cluster, the in-cluster service of the KFP API). The credentials, in
this order: a bearer token (``kfp_token``, from a Secret); a projected service-account token file
(``kfp_token_path``, else the file Kubeflow names in ``KF_PIPELINES_SA_TOKEN_PATH``), read again
whenever it is refreshed, which is what a pipeline step or a pod uses; or none (a port-forward, a
single-user install). ``kfp_namespace`` is the profile namespace of a multi-user Kubeflow.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from components.config.settings import Settings

if TYPE_CHECKING:
    import kfp

DEFAULT_NAMESPACE = "kubeflow"  # kfp.Client's own default: single-user Kubeflow Pipelines
TOKEN_PATH_ENV = "KF_PIPELINES_SA_TOKEN_PATH"  # where Kubeflow's PodDefault puts a pipeline pod's token


def kfp_client(settings: Settings) -> kfp.Client:
    """A client of the settings' Kubeflow Pipelines API, authenticated as the settings say.

    Example:
        >>> client = kfp_client(Settings(kfp_host="http://127.0.0.1:9", kfp_namespace="team-a"))
        >>> client.get_user_namespace()
        'team-a'
    """
    # Imported here: a KFP step's executor has kfp.dsl half-imported when the step's module is read, and
    # kfp.client imports the compiler, which imports kfp.dsl again.
    import kfp
    from kfp.client.set_volume_credentials import ServiceAccountTokenVolumeCredentials

    token = settings.kfp_token.get_secret_value() if settings.kfp_token else None
    credentials = None
    if token is None and (settings.kfp_token_path is not None or os.environ.get(TOKEN_PATH_ENV)):
        path = settings.kfp_token_path or os.environ[TOKEN_PATH_ENV]
        credentials = ServiceAccountTokenVolumeCredentials(path=str(path))
    return kfp.Client(
        host=settings.kfp_host,
        namespace=settings.kfp_namespace or DEFAULT_NAMESPACE,
        existing_token=token,
        credentials=credentials,
        ssl_ca_cert=str(settings.kfp_ssl_ca_cert) if settings.kfp_ssl_ca_cert else None,
    )
