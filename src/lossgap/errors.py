"""The one exception lossgap raises for bad input.

Every check of user input raises :class:`InputError` with a one-line message that says
what is wrong, where (column, row, value) and how to fix it. The CLI turns it into that
line on stderr and exit code 2; anything else is an internal error (exit code 1). The
message is made printable (:func:`lossgap.printable.printable`): data quoted in it can
neither add a line nor send a control sequence to the terminal.
"""

from __future__ import annotations

import os
from typing import Any

from lossgap.printable import printable

#: The exit status of a process ended by Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED = 130


class InputError(ValueError):
    """Bad input: the message names what is wrong, where, and the fix.

    Examples
    --------
    >>> from lossgap import InputError
    >>> issubclass(InputError, ValueError)
    True
    >>> str(InputError("no column 'a\\nb\\x1b[2J'"))
    "no column 'a\\\\nb\\\\x1b[2J'"
    """

    def __init__(self, *args: object) -> None:
        # messages quote the data (column names, labels, paths): keep them one printable line
        super().__init__(*(printable(a) if isinstance(a, str) else a for a in args))


def exit_interrupted(signum: int, frame: Any) -> None:
    """SIGINT handler of the ``lossgap`` program while there is nothing to clean up.

    While modules load and while the interpreter exits, a ``KeyboardInterrupt`` would
    escape every handler: Python prints its trace and ends the process by the signal
    (status -2 to a parent, not 130). This ends it at once with the one line and
    :data:`INTERRUPTED`; a running command gets ``KeyboardInterrupt`` instead, so its
    files are cleaned up first (:func:`lossgap.cli.main`).
    """
    os.write(2, b"lossgap: interrupted\n")  # async-signal-safe: no buffered stream
    os._exit(INTERRUPTED)
