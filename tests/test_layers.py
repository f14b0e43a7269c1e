"""Imports run one way: specification → golden model → RTL → simulation → application.

Every ``import`` of every module of the package, also those inside functions, is read with ``ast``;
an import of a higher layer, or a cycle between modules, fails the test with the offending lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Folder of each sub-package, as pyproject.toml maps them, and its layer (lower imports nothing higher).
PACKAGES = {"rnnhw.spec": "spec", "rnnhw.golden": "golden", "rnnhw.rtl": "rtl", "rnnhw.sim": "sim",
            "rnnhw.examples": "examples", "rnnhw": "rnnhw"}
LAYERS = {"rnnhw.spec": 0, "rnnhw.golden": 1, "rnnhw.rtl": 2, "rnnhw.sim": 3, "rnnhw.examples": 4, "rnnhw": 4}
LAYER_NAMES = ["specification", "golden model", "RTL", "simulation", "application"]


def _modules() -> dict[str, Path]:
    modules = {}
    for package, folder in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            if package == "rnnhw" and path.relative_to(ROOT / folder).parts[0] in ("__pycache__",):
                continue
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join([package, *parts])] = path
    return modules


MODULES = _modules()


def layer_of(module: str) -> int:
    package = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[package]


def imports_of(module: str, path: Path) -> list[tuple[int, str]]:
    """``(line, imported module)`` for every import in the file, resolved to this package's modules."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module
            # "from X import y" may import the module X.y or the name y of X.
            names = [f"{prefix}.{alias.name}" if f"{prefix}.{alias.name}" in MODULES else prefix
                     for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in MODULES:  # "rnnhw.spec.config.Config" -> its module
                name = name.rpartition(".")[0]
            if name and name != module:
                found.append((node.lineno, name))
    return found


GRAPH = {module: imports_of(module, path) for module, path in MODULES.items()}


def test_the_walk_sees_every_layer_and_nested_imports():
    assert {layer_of(m) for m in MODULES} == set(range(len(LAYER_NAMES)))
    # An import inside a function counts like one at the top: the verifier imports the RTL lazily.
    assert "rnnhw.rtl.top" in {name for _, name in GRAPH["rnnhw.sim.verify"]}


def test_imports_run_downward_only():
    upward = [f"{MODULES[m].relative_to(ROOT)}:{line} ({LAYER_NAMES[layer_of(m)]}) imports {name} "
              f"({LAYER_NAMES[layer_of(name)]})"
              for m, edges in GRAPH.items() for line, name in edges if layer_of(name) > layer_of(m)]
    assert upward == []


def test_no_import_cycles():
    # A package's __init__ importing its own modules is not a cycle of the code's structure.
    edges = {m: {n for _, n in e if not (MODULES[m].name == "__init__.py" and n.startswith(m + "."))}
             for m, e in GRAPH.items()}
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [])
    assert cycles == []


@pytest.mark.parametrize("source, expected", [
    ("from rnnhw.rtl.top import generate_verilog", "rnnhw.rtl.top"),
    ("from rnnhw.spec import config", "rnnhw.spec.config"),
    ("from .datapath import datapath", "rnnhw.spec.datapath"),
    ("def f():\n    import rnnhw.sim.verify", "rnnhw.sim.verify"),
])
def test_import_resolution(tmp_path, source, expected):
    path = tmp_path / "probe.py"
    path.write_text(source + "\n")
    assert [name for _, name in imports_of("rnnhw.spec.probe", path)] == [expected]
