"""skillrank pipelines."""
