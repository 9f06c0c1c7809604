"""The layering of ``docs/architecture.md`` as a contract: no import cycle, no upward import.

Every import counts, module level and inside functions alike (a deferred import is still a
dependency); only imports under ``if TYPE_CHECKING:`` are skipped, since they never run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"

#: Layers from the bottom up; a module may import its own layer's package and any layer
#: below. Commands (one layer) may not import each other, except through lower layers.
LAYERS: list[tuple[str, ...]] = [
    ("lossgap.printable",),
    ("lossgap.errors", "lossgap.version"),
    ("lossgap.results",),
    ("lossgap.core",),
    ("lossgap.io",),
    ("lossgap.rules",),
    ("lossgap.engines",),
    ("lossgap.explanation",),
    (
        "lossgap.calibrator",
        "lossgap.comparison",
        "lossgap.history",
        "lossgap.interpret",
        "lossgap.lab",
        "lossgap.curves",
        "lossgap.integrations",
        "lossgap.torch",
        "lossgap.spark",
    ),
    ("lossgap.demo",),
    ("lossgap.render",),
    ("lossgap.cli",),
    ("lossgap", "lossgap.__main__"),
]

#: Renderers read results and compute nothing: these are all they may import.
RENDER_MAY_IMPORT = (
    "lossgap.printable",
    "lossgap.errors",
    "lossgap.version",
    "lossgap.results",
    "lossgap.render",
)


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted((SRC / "lossgap").rglob("*.py")):
        name = ".".join(path.relative_to(SRC).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = path
    return out


MODULES = modules()


def resolve(name: str) -> str:
    """The module a dotted import target lives in (``pkg.mod.func`` -> ``pkg.mod``)."""
    while name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def imports(module: str) -> Iterator[tuple[int, str]]:
    """(line, imported lossgap module) for every import of ``module`` that can run."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = {
        id(sub)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for sub in ast.walk(node)
    }
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            targets = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            if target == "lossgap" or target.startswith("lossgap."):
                found = resolve(target)
                if found != module:
                    yield node.lineno, found


def group(module: str) -> tuple[int, str]:
    """(layer index, the layer member the module belongs to), by longest prefix."""
    best = (-1, "", "")
    for index, members in enumerate(LAYERS):
        for member in members:
            if (module == member or module.startswith(member + ".")) and len(member) > len(
                best[2]
            ):
                best = (index, member, member)
    assert best[0] >= 0, f"{module} is in no layer: add it to LAYERS and docs/architecture.md"
    return best[0], best[1]


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        group(module)


def test_no_import_runs_upward_or_across() -> None:
    wrong = []
    for module in MODULES:
        layer, member = group(module)
        for line, target in imports(module):
            target_layer, target_member = group(target)
            upward = target_layer > layer
            across = target_layer == layer and target_member != member
            if upward or across:
                wrong.append(f"{MODULES[module].relative_to(SRC)}:{line} imports {target}")
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def test_renderers_import_no_computing_module() -> None:
    wrong = [
        f"{MODULES[module].relative_to(SRC)}:{line} imports {target}"
        for module in MODULES
        if module.startswith("lossgap.render")
        for line, target in imports(module)
        if not target.startswith(RENDER_MAY_IMPORT)
    ]
    assert not wrong, "renderers must only read results:\n" + "\n".join(wrong)


def test_no_import_cycle() -> None:
    graph = {module: {target for _, target in imports(module)} for module in MODULES}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt) :] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
