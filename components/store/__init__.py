"""Feast I/O of skillrank: publishing features, point-in-time training sets, and the retrieval index.

`publish_features` registers the definitions of `feature_repo` and fills the online store;
`historical_features` and `modelling_frame` read training sets back through Feast's point-in-time
join; `RetrievalIndex` picks the candidates stage 2 ranks. The store itself is built from settings
by `components.config.feast.feature_store`.
"""

from components.lazy import lazy_exports

_EXPORTS = {
    "RetrievalIndex": "components.store.retrieval",
    "build_retrieval_index": "components.store.retrieval",
    "historical_features": "components.store.feast_io",
    "latest_as_of": "components.store.feast_io",
    "modelling_frame": "components.store.modelling_frame",
    "publish_features": "components.store.publish",
    "read_point_in_time_table": "components.store.feast_io",
    "write_retrieval_index": "components.store.retrieval",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
