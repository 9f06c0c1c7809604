"""Print pip constraints that pin lossgap's dependencies to their declared floors.

``make test-floor`` installs with them, so the suite runs at the lowest versions
``pyproject.toml`` allows: the core dependencies, and the test references whose floors
matter (pandas, matplotlib, scikit-learn). The other dev tools take their newest release.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import tomllib

#: Dev and extra packages pinned as well as the core.
ALSO = ("pandas", "matplotlib", "scikit-learn", "pyarrow")


def floors(pyproject: Path) -> dict[str, str]:
    project = tomllib.loads(pyproject.read_text())["project"]
    specs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        specs += [s for s in extra if re.split(r"[<>=!~ \[;]", s, maxsplit=1)[0] in ALSO]
    out = {}
    for spec in specs:
        match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*>=\s*([^,;\s]+)\s*", spec)
        if match:
            name, version = match.groups()
            out[name] = max(out.get(name, version), version, key=_key)
    return out


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version))


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]
    for name, version in sorted(floors(root / "pyproject.toml").items()):
        print(f"{name}=={version}")
