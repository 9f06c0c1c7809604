"""The rule book: every finding code, its threshold and its severity, defined once.

Rules read results and return :class:`~lossgap.results.evaluation.Finding` objects.
"""
