"""Result types: frozen data that every command returns and every renderer reads.

This layer sits at the bottom (it imports nothing of lossgap above ``errors``), so computing
modules and renderers can both depend on it.
"""
