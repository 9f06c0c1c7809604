"""The numeric core: validated predictions, the Tally and every metric computed from it.

Nothing here prints, reads files or knows the commands; it imports only ``errors`` and
``results``.
"""
