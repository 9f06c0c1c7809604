"""Make user-supplied text printable before it reaches a terminal, a message or a file.

Ids, labels, class, column, model, run and file names come from the data. Printed raw, a
control character in one of them acts on the reader's terminal (``ESC ] 0 ;`` retitles
it, ``ESC [ 2 J`` clears it) and a newline adds a line to a one-line message.
:func:`printable` is the one function that turns such text into inert, visible escapes;
errors (:class:`~lossgap.InputError`), the terminal renderers and the Markdown writer all
call it where user text enters them.
"""

from __future__ import annotations

import unicodedata
from typing import Any

#: Unicode categories that print nothing visible or move the cursor: controls (C0, DEL,
#: C1, ``ESC``), format characters (bidirectional overrides, zero-width characters) and
#: line and paragraph separators.
_HIDDEN = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn"})
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(value: Any) -> str:
    """``str(value)`` with every control, format or separator character escaped.

    The result is one line of visible characters; ordinary text (accents, CJK, emoji)
    passes unchanged, and applying it twice changes nothing more.

    Parameters
    ----------
    value : object
        Any value; it is converted with ``str``.

    Returns
    -------
    str

    Examples
    --------
    >>> printable("id\\x1b]0;owned\\x07")
    'id\\\\x1b]0;owned\\\\x07'
    >>> printable("two\\nlines"), printable("café 猫")
    ('two\\\\nlines', 'café 猫')
    """
    text = str(value)
    if text.isprintable():  # the common case: one C-level scan
        return text
    return "".join(
        _escaped(ch) if unicodedata.category(ch) in _HIDDEN else ch for ch in text
    )
