"""The package's version and the version of its JSON output.

``schema_version`` changes when a JSON key is renamed or removed (adding keys does not
change it), so a consumer can tell which contract of ``docs/json.md`` it reads.
"""

from __future__ import annotations

__version__ = "0.1.0"

#: Version of the JSON contract (docs/json.md); bumped when a key is renamed or removed.
SCHEMA_VERSION = 1
