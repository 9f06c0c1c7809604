"""lossgap.core (see docs/architecture.md for the layers)."""
