"""Compile the pipelines to the YAML the Kubeflow UI uploads, on the image the manifests run.

The components name the image by the placeholder the manifests use (`components.kfp_ops.IMAGE`,
``skillrank``); compiling writes one reference in its place: ``--image``, else the one kustomize gives
the manifests (``images:`` in ``manifests/image/kustomization.yaml``) when the repository is there,
else the settings' ``image`` (``SKILLRANK_IMAGE``, which the cluster's ConfigMap copies from the
manifests' image). Where both are there they must agree.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import yaml
from kfp import compiler

from components.errors import DataError
from components.kfp_ops import IMAGE
from pipelines.monitoring import monitoring_pipeline
from pipelines.training import training_pipeline

REPO_ROOT = Path(__file__).resolve().parents[1]
IMAGE_COMPONENT = REPO_ROOT / "manifests" / "image" / "kustomization.yaml"
IMAGE_ENV = "SKILLRANK_IMAGE"


def kustomize_image(component: Path = IMAGE_COMPONENT) -> str:
    """The reference that the kustomize ``images:`` entry named `IMAGE` gives the manifests.

    Raises:
        DataError: The file has no such entry, or the entry names neither a tag nor a digest.
    """
    images = (yaml.safe_load(component.read_text()) or {}).get("images", [])
    entry = next((image for image in images if image.get("name") == IMAGE), None)
    if entry is None:
        raise DataError(f"{component} has no `images:` entry named {IMAGE!r}")
    name = entry.get("newName", IMAGE)
    if "digest" in entry:
        return f"{name}@{entry['digest']}"
    if "newTag" in entry:
        return f"{name}:{entry['newTag']}"
    raise DataError(f"{component}: the image {IMAGE!r} has neither newTag nor digest; pin one")


def default_image(configured: str | None = None, component: Path = IMAGE_COMPONENT) -> str:
    """The image the manifests run: the repository's kustomize component, else `configured`.

    Args:
        configured: The settings' ``image`` (``SKILLRANK_IMAGE``; in a cluster, from the ConfigMap).
        component: The kustomize component that names the image.

    Raises:
        DataError: Neither is there, or the two disagree.

    Example:
        >>> default_image("registry.example.com/skillrank:0.2.0", Path("/nowhere"))
        'registry.example.com/skillrank:0.2.0'
    """
    if not component.is_file():
        if not configured:
            raise DataError(f"no image to compile for: {component} is not here and {IMAGE_ENV} is not set")
        return configured
    image = kustomize_image(component)
    if configured and configured != image:
        raise DataError(
            f"{IMAGE_ENV}={configured} but {component} names {image}: change the manifests' image "
            "(kustomize edit set image) or pass --image"
        )
    return image


def compile_training(output: Path, image: str | None = None) -> Path:
    """Write the training pipeline's IR YAML to `output`, every step on `image` (default: the manifests')."""
    return compile_pipeline(training_pipeline, output, image)


def compile_monitoring(output: Path, image: str | None = None) -> Path:
    """Write the monitoring pipeline's IR YAML to `output`, every step on `image` (or the manifests')."""
    return compile_pipeline(monitoring_pipeline, output, image)


def compile_pipeline(pipeline, output: Path, image: str | None = None) -> Path:
    """Compile `pipeline` to IR YAML at `output` and put every executor on `image`."""
    image = image or default_image()
    output.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(pipeline, package_path=str(output))
    set_image(output, image)
    return output


def set_image(package: Path, image: str) -> None:
    """Replace the placeholder image of every executor in a compiled pipeline with `image`.

    Raises:
        DataError: An executor runs another image (a component not built on the project image).
    """
    text = package.read_text()
    header = "".join(itertools.takewhile(lambda line: line.startswith("#"), text.splitlines(keepends=True)))
    pipeline, *platforms = list(yaml.safe_load_all(text))
    for name, executor in pipeline["deploymentSpec"]["executors"].items():
        container = executor["container"]
        if container["image"] != IMAGE:
            raise DataError(f"the step {name} runs {container['image']}, not the project image {IMAGE!r}")
        container["image"] = image
    body = yaml.safe_dump_all([pipeline, *platforms], sort_keys=False, width=120)
    package.write_text(header + body)
