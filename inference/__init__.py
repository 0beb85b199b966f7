"""skillrank inference."""
