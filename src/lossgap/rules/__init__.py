"""Finding rules: each reads a result and may return a Finding."""
