"""Pipeline steps of skillrank: plain functions on paths and DataFrames.

Nothing here imports kfp, kserve or the CLI, except `components.kfp_ops`, which holds the thin
`@dsl.component` wrappers around these functions.
"""
