"""The Spark session every skillrank Spark job runs in: local mode, or the one spark-submit configured.

Always: ANSI SQL semantics (divisions go through ``try_divide``), UTC session time, Parquet timestamps
written as INT64 microseconds (readable by pyarrow and Feast), and the workers running the same
interpreter as the driver. In local mode (a laptop, a test, the nightly CronJob) also a few shuffle
partitions for one machine, the driver's heap and no UI. Under spark-submit (the Spark Operator's
driver pod), the master, the executors and every setting spark-submit was given are left as they are.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from pyspark.sql import SparkSession

MASTER_ENV = "SKILLRANK_SPARK_MASTER"
DEFAULT_MASTER = "local[*]"
# spark-submit's PythonRunner starts the application's Python process with the address of the JVM it
# already runs (and configured); a Python process that starts its own JVM has no such variable.
SUBMIT_GATEWAY_ENV = "PYSPARK_GATEWAY_PORT"
TIMEZONE_OPTION = "-Duser.timezone=UTC"
JAVA_OPTIONS = ("spark.driver.extraJavaOptions", "spark.executor.extraJavaOptions")


def required_conf(submitted: dict[str, str] | None = None) -> dict[str, str]:
    """What the job's results depend on, applied in every mode (UTC added to spark-submit's JVM options).

    Example:
        >>> required_conf()["spark.sql.ansi.enabled"]
        'true'
        >>> required_conf({"spark.executor.extraJavaOptions": "-Xss4m"})["spark.executor.extraJavaOptions"]
        '-Xss4m -Duser.timezone=UTC'
    """
    submitted = submitted or {}
    conf = {
        "spark.sql.ansi.enabled": "true",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    }
    for key in JAVA_OPTIONS:
        options = submitted.get(key, "").split()
        conf[key] = " ".join(options if TIMEZONE_OPTION in options else [*options, TIMEZONE_OPTION])
    return conf


def session_conf(shuffle_partitions: int = 8, driver_memory: str = "4g") -> dict[str, str]:
    """The Spark configuration of a skillrank job in local mode.

    Example:
        >>> session_conf()["spark.sql.shuffle.partitions"]
        '8'
    """
    return {
        **required_conf(),
        "spark.sql.shuffle.partitions": str(shuffle_partitions),
        "spark.driver.memory": driver_memory,
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
    }


def session_settings(
    master: str | None,
    shuffle_partitions: int | None,
    driver_memory: str,
    extra_conf: dict[str, str] | None,
    submitted: dict[str, str] | None,
) -> tuple[str | None, dict[str, str]]:
    """The master to set (None: spark-submit's) and the settings to apply to the session's builder.

    Args:
        master: An explicit master, which wins in every mode.
        shuffle_partitions: Explicit shuffle partitions; None: 8 in local mode, else spark-submit's
            value or Spark's default (adaptive execution coalesces small partitions).
        driver_memory: The driver's heap in local mode (under spark-submit its JVM already runs).
        extra_conf: Further settings, applied last in every mode.
        submitted: What spark-submit configured (`submitted_conf`), or None outside spark-submit.

    Example:
        >>> master, conf = session_settings(None, None, "4g", None, {"spark.master": "k8s://https://api"})
        >>> master, "spark.sql.shuffle.partitions" in conf, conf["spark.sql.ansi.enabled"]
        (None, False, 'true')
        >>> session_settings("local[2]", 2, "4g", None, None)[0]
        'local[2]'
    """
    if submitted is None:
        local = session_conf(8 if shuffle_partitions is None else shuffle_partitions, driver_memory)
        return master or os.environ.get(MASTER_ENV, DEFAULT_MASTER), local | (extra_conf or {})
    conf = required_conf(submitted)
    if shuffle_partitions is not None:
        conf["spark.sql.shuffle.partitions"] = str(shuffle_partitions)
    return master, conf | (extra_conf or {})


def under_spark_submit() -> bool:
    """Whether spark-submit started this process (its JVM runs, configured, and this is its application)."""
    return SUBMIT_GATEWAY_ENV in os.environ


def submitted_conf() -> dict[str, str]:
    """The settings spark-submit gave the running JVM: its master, ``--conf`` values and properties file."""
    from pyspark import SparkConf, SparkContext

    SparkContext._ensure_initialized()  # connect to spark-submit's JVM: a SparkConf then reads its settings
    return dict(SparkConf().getAll())


@contextmanager
def spark_session(
    app_name: str,
    *,
    master: str | None = None,
    shuffle_partitions: int | None = None,
    driver_memory: str = "4g",
    extra_conf: dict[str, str] | None = None,
) -> Iterator[SparkSession]:
    """Start a Spark session for one job and stop it when the block ends.

    Under spark-submit (e.g. the Spark Operator's driver) the session keeps spark-submit's master,
    application name, executors and settings, and only adds what the job's results depend on
    (`required_conf`); elsewhere it runs in local mode, configured by `session_conf`.

    Args:
        app_name: Name shown in Spark's logs and UI (spark-submit's name wins when it gave one).
        master: Spark master URL, in every mode; defaults to spark-submit's master, else
            ``$SKILLRANK_SPARK_MASTER``, else ``local[*]``.
        shuffle_partitions: Partitions after a shuffle; defaults to 8 in local mode (one machine) and
            to spark-submit's setting, or Spark's default, under spark-submit.
        driver_memory: Heap of the driver JVM in local mode. Only takes effect when no JVM is running
            yet in this process.
        extra_conf: Further Spark settings, applied last.

    Yields:
        The session. A session that was already running in this process is reused (with these SQL
        settings applied) and left running at the end; one started here is stopped.

    Example:
        >>> with spark_session("demo") as spark:  # doctest: +SKIP
        ...     spark.range(3).count()
        3
    """
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    submitted = submitted_conf() if under_spark_submit() else None
    master, conf = session_settings(master, shuffle_partitions, driver_memory, extra_conf, submitted)
    builder = SparkSession.builder
    if submitted is None or "spark.app.name" not in submitted:
        builder = builder.appName(app_name)
    if master is not None:
        builder = builder.master(master)
    for key, value in conf.items():
        builder = builder.config(key, value)
    already_running = SparkSession.getActiveSession() is not None
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    try:
        yield spark
    finally:
        if not already_running:
            spark.stop()
