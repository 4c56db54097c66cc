"""cac311 — backend of the 3-1-1 citizen contact center."""
