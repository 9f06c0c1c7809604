"""The ``lossgap`` program: ``python -m lossgap`` and the ``lossgap`` console script.

Ctrl-C ends it with ``lossgap: interrupted`` and exit status 130 at every moment after the
interpreter starts running it: the handler is set before the command line's modules (typer,
then numpy, scipy, pyarrow...) load.
"""

import signal

from lossgap.errors import exit_interrupted


def main() -> None:
    """Run the command line (:func:`lossgap.cli.main`) with Ctrl-C as exit 130."""
    signal.signal(signal.SIGINT, exit_interrupted)
    from lossgap.cli import main as command_line

    command_line()


if __name__ == "__main__":
    main()
