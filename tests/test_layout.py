"""The package's imports point one way (infrastructure <- data, models, heads <- config <-
callbacks <- job <- report <- sweep <- the command line) and have no cycle, counting
imports made inside functions."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
LAYERS = {  # top-level part of xlprune -> its layer; a module imports only its layer or lower
    "infra": 0,
    "data": 1,
    "models": 1,
    "heads": 1,
    "config": 2,
    "callbacks": 3,
    "job": 4,
    "report": 5,
    "sweep": 6,
    "__main__": 7,
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    found = {module_name(p): p for p in SRC.rglob("*.py") if "vendor" not in p.parts}
    return {name: p for name, p in found.items() if name.startswith(("xlprune", "hydra_plugins"))}


def imported(path: Path, known: set[str]) -> set[str]:
    """The xlprune modules a file imports anywhere in it (`from a import b` counts a.b when
    b is a module, else a)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                if sub in known:
                    out.add(sub)
                elif node.module in known:
                    out.add(node.module)
    return out


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imported(path, known) - {name} for name, path in mods.items()}


def layer(name: str) -> int | None:
    if name.startswith("hydra_plugins"):
        return LAYERS["__main__"]
    parts = name.split(".")
    return LAYERS.get(parts[1]) if len(parts) > 1 else 0


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                on.discard(w)
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_among_modules():
    assert cycles(graph()) == []


def test_imports_point_one_way():
    wrong = [
        f"{a} (layer {layer(a)}) imports {b} (layer {layer(b)})"
        for a, deps in sorted(graph().items())
        for b in sorted(deps)
        if b.startswith("xlprune.") and layer(b) is not None and layer(b) > layer(a)
    ]
    assert wrong == []


def test_every_part_has_a_layer():
    parts = {name.split(".")[1] for name in modules() if name.startswith("xlprune.")}
    assert parts <= set(LAYERS)


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
