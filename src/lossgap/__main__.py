"""``python -m lossgap`` runs the command-line interface."""

from lossgap.cli import main

main()
