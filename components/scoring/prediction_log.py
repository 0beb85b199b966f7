"""The prediction log's row schema: one row per investor shown in a served feed.

The transformer writes it (`inference.prediction_log`) and monitoring reads it (`monitoring.served`);
both take the schema from here so the writer and the reader cannot disagree.
"""

import pyarrow as pa

PREDICTION_LOG_SCHEMA = pa.schema(
    [
        pa.field("request_id", pa.string(), nullable=False),
        pa.field("viewer_id", pa.string()),
        pa.field("arm", pa.string(), nullable=False),
        pa.field("model_version", pa.string()),
        pa.field("as_of_date", pa.date32()),
        pa.field("served_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("degraded", pa.bool_(), nullable=False),
        pa.field("rank", pa.int16(), nullable=False),
        pa.field("account_id", pa.string(), nullable=False),
        pa.field("score", pa.float64()),
    ]
)
PREDICTION_LOG_PARTS = "date=*/*.parquet"  # the log's hive partitions (predictions/ also holds training's)
