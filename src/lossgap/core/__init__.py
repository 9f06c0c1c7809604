"""The numeric core: pure computations on validated predictions and their Tally."""
