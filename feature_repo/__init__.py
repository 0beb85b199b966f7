"""The Feast repository of skillrank, the one feature contract; it imports nothing else of skillrank.

`feature_schema` names every feature and what each consumer reads; `definitions` declares the entity,
the source, the view and one feature service per consumer (``service_features`` lists a service's
names); `store` builds a `FeatureStore` over a data root from explicit arguments; ``feature_store.yaml``
lets the ``feast`` CLI plan, apply and materialise it. Nothing is imported here, so reading the schema
does not load Feast.
"""
