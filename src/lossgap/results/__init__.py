"""lossgap.results (see docs/architecture.md for the layers)."""
