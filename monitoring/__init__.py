"""skillrank monitoring."""
