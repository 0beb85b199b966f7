"""A local-mode Spark session configured the way every skillrank Spark job expects.

ANSI SQL semantics (divisions go through ``try_divide``), UTC session time, few shuffle partitions
for one machine, Parquet timestamps written as INT64 microseconds (readable by pyarrow and Feast),
and the workers running the same interpreter as the driver.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from pyspark.sql import SparkSession

MASTER_ENV = "SKILLRANK_SPARK_MASTER"
DEFAULT_MASTER = "local[*]"


def session_conf(shuffle_partitions: int = 8, driver_memory: str = "4g") -> dict[str, str]:
    """The Spark configuration of a skillrank job.

    Example:
        >>> session_conf()["spark.sql.ansi.enabled"]
        'true'
    """
    return {
        "spark.sql.ansi.enabled": "true",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(shuffle_partitions),
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.driver.memory": driver_memory,
        "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
        "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
    }


@contextmanager
def spark_session(
    app_name: str,
    *,
    master: str | None = None,
    shuffle_partitions: int = 8,
    driver_memory: str = "4g",
    extra_conf: dict[str, str] | None = None,
) -> Iterator[SparkSession]:
    """Start a Spark session for one job and stop it when the block ends.

    Args:
        app_name: Name shown in Spark's logs and UI.
        master: Spark master URL; defaults to ``$SKILLRANK_SPARK_MASTER`` or ``local[*]``.
        shuffle_partitions: Partitions after a shuffle (small suits one machine).
        driver_memory: Heap of the driver JVM (in local mode, the only JVM). Only takes effect when
            no JVM is running yet in this process.
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
    builder = SparkSession.builder.appName(app_name).master(
        master or os.environ.get(MASTER_ENV, DEFAULT_MASTER)
    )
    for key, value in {**session_conf(shuffle_partitions, driver_memory), **(extra_conf or {})}.items():
        builder = builder.config(key, value)
    already_running = SparkSession.getActiveSession() is not None
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    try:
        yield spark
    finally:
        if not already_running:
            spark.stop()
