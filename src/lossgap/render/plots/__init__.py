"""Charts (matplotlib): they draw results and curves computed before, and compute nothing."""
