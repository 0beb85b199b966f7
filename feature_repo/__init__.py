"""The Feast repository of skillrank: entity, sources, feature views and feature services."""
