"""The one exception lossgap raises for bad input.

Every check of user input raises :class:`InputError` with a one-line message that says
what is wrong, where (column, row, value) and how to fix it. The CLI turns it into that
line on stderr and exit code 2; anything else is an internal error (exit code 1). The
message is made printable (:func:`lossgap.printable.printable`): data quoted in it can
neither add a line nor send a control sequence to the terminal.
"""

from __future__ import annotations

from lossgap.printable import printable


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
