"""Feast I/O of skillrank: publishing features, point-in-time training sets, and the retrieval index.

`publish_features` registers the definitions of `feature_repo` and fills the online store;
`historical_features` and `modelling_frame` read training sets back through Feast's point-in-time
join; `RetrievalIndex` picks the candidates stage 2 ranks. The store itself is built from settings
by `components.config.feast.feature_store`.
"""

from components.store.feast_io import historical_features, latest_as_of, read_point_in_time_table
from components.store.modelling_frame import modelling_frame
from components.store.publish import publish_features
from components.store.retrieval import RetrievalIndex, build_retrieval_index, write_retrieval_index

__all__ = [
    "RetrievalIndex",
    "build_retrieval_index",
    "historical_features",
    "latest_as_of",
    "modelling_frame",
    "publish_features",
    "read_point_in_time_table",
    "write_retrieval_index",
]
