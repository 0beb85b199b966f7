"""The job's Spark session: local mode on its own, spark-submit's master and settings under spark-submit."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from components.features.spark import DEFAULT_MASTER, MASTER_ENV, required_conf, session_settings

SPARK_SUBMIT = Path(sys.executable).parent / "spark-submit"
K8S = "k8s://https://kubernetes.default.svc:443"
REPORTED = {"spark.master", "spark.app.name", "spark.sql.shuffle.partitions", "spark.sql.ansi.enabled"}


def test_local_mode_by_default_with_the_settings_for_one_machine(monkeypatch):
    monkeypatch.delenv(MASTER_ENV, raising=False)
    master, conf = session_settings(None, None, "4g", None, submitted=None)
    assert master == DEFAULT_MASTER
    assert conf["spark.sql.shuffle.partitions"] == "8" and conf["spark.driver.memory"] == "4g"
    assert conf["spark.ui.enabled"] == "false"
    assert conf.items() >= required_conf().items()


def test_local_mode_takes_the_master_of_the_environment_and_an_explicit_one_over_it(monkeypatch):
    monkeypatch.setenv(MASTER_ENV, "spark://spark-master:7077")
    assert session_settings(None, None, "4g", None, None)[0] == "spark://spark-master:7077"
    assert session_settings("local[2]", None, "4g", None, None)[0] == "local[2]"


def test_under_spark_submit_its_master_and_settings_stay(monkeypatch):
    monkeypatch.setenv(MASTER_ENV, "local[*]")  # e.g. from a ConfigMap: not for a submitted application
    submitted = {
        "spark.master": K8S,
        "spark.executor.instances": "8",
        "spark.executor.memory": "8g",
        "spark.sql.shuffle.partitions": "64",
        "spark.ui.enabled": "true",
    }
    master, conf = session_settings(None, None, "4g", None, submitted)
    assert master is None  # the builder sets none: spark-submit's stays
    assert not {
        "spark.master",
        "spark.sql.shuffle.partitions",
        "spark.driver.memory",
        "spark.ui.enabled",
    } & set(conf)
    assert not any(key.startswith("spark.executor.") and "JavaOptions" not in key for key in conf)
    assert conf["spark.sql.ansi.enabled"] == "true" and conf["spark.sql.session.timeZone"] == "UTC"


def test_under_spark_submit_the_job_keeps_its_semantics_and_explicit_arguments_win(monkeypatch):
    submitted = {
        "spark.master": K8S,
        "spark.sql.ansi.enabled": "false",
        "spark.driver.extraJavaOptions": "-Xss4m",
    }
    master, conf = session_settings("local[1]", 16, "4g", {"spark.sql.adaptive.enabled": "false"}, submitted)
    assert master == "local[1]"
    assert conf["spark.sql.ansi.enabled"] == "true"  # the features' divisions rely on ANSI mode
    assert conf["spark.driver.extraJavaOptions"] == "-Xss4m -Duser.timezone=UTC"
    assert conf["spark.sql.shuffle.partitions"] == "16" and conf["spark.sql.adaptive.enabled"] == "false"


@pytest.mark.spark
@pytest.mark.skipif(
    not SPARK_SUBMIT.exists() or shutil.which("java") is None, reason="needs spark-submit and java"
)
def test_a_session_started_by_spark_submit_keeps_its_master_and_settings(tmp_path):
    app = tmp_path / "app.py"
    app.write_text(
        "import json\n"
        "from components.features.spark import spark_session\n"
        "with spark_session('skillrank-features') as spark:\n"
        "    conf = spark.sparkContext.getConf()\n"
        f"    print('CONF ' + json.dumps({{k: conf.get(k) for k in {sorted(REPORTED)}}}))\n"
    )
    env = {**os.environ, MASTER_ENV: "local[4]", "PYSPARK_PYTHON": sys.executable}
    result = subprocess.run(
        [str(SPARK_SUBMIT), "--master", "local[1]", "--name", "from-submit"]
        + ["--conf", "spark.sql.shuffle.partitions=3", "--conf", "spark.ui.enabled=false", str(app)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    [line] = [line for line in result.stdout.splitlines() if line.startswith("CONF ")]
    assert json.loads(line.removeprefix("CONF ")) == {
        "spark.master": "local[1]",
        "spark.app.name": "from-submit",
        "spark.sql.shuffle.partitions": "3",
        "spark.sql.ansi.enabled": "true",
    }
