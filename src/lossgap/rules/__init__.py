"""lossgap.rules (see docs/architecture.md for the layers)."""
