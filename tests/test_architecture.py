"""The package's imports point one way: ssm <- models <- pruning <- evaluation/training/hub/... <- experiments
<- cli (ARCHITECTURE.md). Read from the source with ast, function-local imports included, so an import moved
into a function to dodge a cycle still counts as the edge it is."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "hf_last"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE

# Layer of each top-level part of the package; a module may import its own layer and the layers below.
LAYERS = {
    "_version": 0, "default_models": 0,  # leaves: the version string, the shipped checkpoints' folder lookup
    "ssm": 1,
    "models": 2,
    "pruning": 3,
    "accelerator": 4, "collate": 4, "data": 4, "evaluation": 4, "hub": 4, "loading": 4, "metrics": 4,
    "optimization": 4, "recovery": 4, "reporting": 4, "training": 4,
    "experiments": 5, PACKAGE: 5,  # the package root is the public API: it sits on what it exports
    "cli": 6,
}
# The one upward import: a model's push_to_hub delegates to hf_last.hub, imported where it is called (and
# optional, so remote code without hf_last falls back to transformers' push).
ALLOWED_UPWARD = {("hf_last.models.modeling_ssm", "hf_last.hub")}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_package(name: str) -> bool:
    return (ROOT.parent / name.replace(".", "/") / "__init__.py").is_file()


def is_module(name: str) -> bool:
    return is_package(name) or (ROOT.parent / (name.replace(".", "/") + ".py")).is_file()


def imports(path: Path) -> list[tuple[str, int, bool]]:
    """(imported hf_last module, line, inside a function) for every import statement of the file."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    local = {id(node) for function in ast.walk(tree) if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
             for node in ast.walk(function)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            # `from package import submodule` imports the submodule; `from module import name` the module
            targets = [f"{base}.{a.name}" if is_module(f"{base}.{a.name}") else base for a in node.names]
        else:
            continue
        for target in dict.fromkeys(targets):
            if target == PACKAGE or target.startswith(PACKAGE + "."):
                found.append((target, node.lineno, id(node) in local))
    return found


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS[parts[1] if len(parts) > 1 else PACKAGE]


def edges() -> list[tuple[str, str, int, bool]]:
    return [(module_name(path), target, line, in_function)
            for path in sorted(ROOT.rglob("*.py")) for target, line, in_function in imports(path)]


def test_every_part_of_the_package_has_a_layer():
    parts = {p.stem if p.suffix == ".py" else p.name for p in ROOT.iterdir()
             if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()}
    assert parts <= set(LAYERS), f"add {sorted(parts - set(LAYERS))} to LAYERS (and to ARCHITECTURE.md)"


def test_no_upward_import():
    upward = [f"{source}:{line} imports {target}" for source, target, line, _ in edges()
              if layer(target) > layer(source) and (source, target) not in ALLOWED_UPWARD]
    assert not upward, "imports against the layering (see ARCHITECTURE.md):\n" + "\n".join(upward)


def test_the_allowed_upward_import_stays_inside_push_to_hub():
    found = [(line, in_function) for source, target, line, in_function in edges()
             if (source, target) in ALLOWED_UPWARD]
    assert found and all(in_function for _, in_function in found)


def test_no_import_cycle_even_through_function_local_imports():
    graph: dict[str, set[str]] = {}
    for source, target, _, _ in edges():
        if (source, target) not in ALLOWED_UPWARD and source != target:
            graph.setdefault(source, set()).add(target)
    state: dict[str, str] = {}  # "open" while on the depth-first path, "done" after

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycle = path[path.index(nxt):] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


def test_models_import_nothing_from_pruning():
    assert not [(s, t) for s, t, _, _ in edges() if s.startswith("hf_last.models") and t.startswith("hf_last.pruning")]
