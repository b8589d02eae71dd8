"""One local Spark session for every Spark test (starting the JVM costs seconds; do it once)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def spark():
    pytest.importorskip("pyspark", reason="the spark extra is not installed")
    from amlstack.spark_predict import session

    spark = session("local[2]", app_name="amlstack-tests")
    spark.conf.set("spark.sql.shuffle.partitions", "2")
    yield spark
    spark.stop()
