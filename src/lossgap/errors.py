"""The one exception lossgap raises for bad input.

Every check of user input raises :class:`InputError` with a one-line message that says
what is wrong, where (column, row, value) and how to fix it. The CLI turns it into that
line on stderr and exit code 2; anything else is an internal error (exit code 1).
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad input: the message names what is wrong, where, and the fix.

    Examples
    --------
    >>> from lossgap import InputError
    >>> issubclass(InputError, ValueError)
    True
    """
