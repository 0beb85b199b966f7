"""The direction of imports (pyproject's import-linter contracts) holds, and a wrong-way import breaks it."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("components", "feature_repo", "inference", "monitoring", "pipelines")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(tree: Path) -> subprocess.CompletedProcess:
    """Run import-linter on the packages under `tree` (they shadow the installed ones on PYTHONPATH)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_tree_keeps_every_contract(tree_copy):
    result = lint_imports(tree_copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout.split("Contracts:")[-1]


@pytest.mark.parametrize(
    ("module", "planted", "contract"),
    [
        ("components/scoring/finalize.py", "import pipelines.cli", "components are steps"),
        ("feature_repo/definitions.py", "import components.config.settings", "feature_repo is the feature"),
        ("inference/transformer.py", "import components.release.champion", "inference reads feature_repo"),
        ("monitoring/drift.py", "import inference.predictor", "monitoring builds on components"),
    ],
)
def test_a_planted_wrong_way_import_breaks_its_contract(tree_copy, module, planted, contract):
    path = tree_copy / module
    path.write_text(path.read_text() + f"\n{planted}  # planted by the test\n")
    result = lint_imports(tree_copy)
    assert result.returncode != 0
    broken = result.stdout.split("Broken contracts")[-1]
    importer = module.removesuffix(".py").replace("/", ".")
    assert contract in broken and f"{importer} -> {planted.split()[-1]}" in broken
