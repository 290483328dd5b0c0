"""Bundle hf_last's modeling code as flat files for ``trust_remote_code=True`` users.

A Hub repo can carry the Python files that define its classes; transformers' dynamic module loader downloads
the file named in ``config.json``'s ``auto_map`` and, recursively, every sibling it imports with a
*single-dot* relative import (``from .scan import lti_scan``). It cannot follow package-relative imports
(``from ...ssm.scan import lti_scan``, transformers#36653), and it refuses files that import a package the
user lacks (``hf_last`` itself). :func:`bundle_remote_code` therefore walks the import graph of the model's
defining modules inside ``hf_last``, copies each module to one flat file and rewrites its ``hf_last``
imports to flat sibling imports. Everything is generated from the installed source at push time.

Imports of ``hf_last`` inside ``try:`` blocks are optional by convention (transformers' import checker
skips ``try`` blocks too) and are left untouched, e.g. the ``push_to_hub`` hook that falls back to
transformers' own push when ``hf_last`` is missing.
"""

from __future__ import annotations

import ast
import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "hf_last"


class RemoteCodeError(RuntimeError):
    """The modeling code uses an import form that cannot be flattened for the Hub."""


@dataclass
class RemoteCodeBundle:
    """Flat files (name -> source) and the ``auto_map`` that points transformers at them."""

    files: dict[str, str]
    auto_map: dict[str, str]
    modules: dict[str, str] = field(default_factory=dict)  # dotted module name -> flat file name

    def write(self, folder) -> list[Path]:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, source in self.files.items():
            path = folder / name
            path.write_text(source, encoding="utf-8")
            paths.append(path)
        return paths


def _module_file(module_name: str) -> Path:
    spec = importlib.util.find_spec(module_name)
    if spec is None or spec.origin is None:
        raise RemoteCodeError(f"cannot locate the source of module {module_name!r}")
    path = Path(spec.origin)
    if path.name == "__init__.py":
        raise RemoteCodeError(
            f"{module_name!r} is a package; remote code can only bundle modules. Import from the defining "
            "module (e.g. `from ..ssm.scan import lti_scan`, not `from ..ssm import lti_scan`).")
    if path.suffix != ".py":
        raise RemoteCodeError(f"{module_name!r} is not a Python source file ({path})")
    return path


def _inside_try(tree: ast.AST) -> set[int]:
    """ids of nodes that sit inside a ``try:`` block."""
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try):
            for child in ast.walk(node):
                if child is not node:
                    ids.add(id(child))
    return ids


def _package_imports(module_name: str, tree: ast.AST) -> list[tuple[ast.stmt, str]]:
    """(statement, absolute target module) for every import of an ``hf_last`` module that must be rewritten."""
    package = module_name.rpartition(".")[0]
    optional = _inside_try(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                target = importlib.util.resolve_name("." * node.level + (node.module or ""), package)
                if not node.module:
                    raise RemoteCodeError(f"{module_name}: `from {'.' * node.level} import ...` (line {node.lineno}) "
                                          "imports a package; import names from their defining module instead")
            elif node.module and (node.module == PACKAGE or node.module.startswith(PACKAGE + ".")):
                if id(node) in optional:
                    continue
                target = node.module
            else:
                continue
            found.append((node, target))
        elif isinstance(node, ast.Import) and id(node) not in optional:
            for alias in node.names:
                if alias.name == PACKAGE or alias.name.startswith(PACKAGE + "."):
                    raise RemoteCodeError(f"{module_name}: `import {alias.name}` (line {node.lineno}) cannot be "
                                          "flattened; use `from <module> import <name>`")
    return found


def _flat_names(modules: list[str]) -> dict[str, str]:
    """Shortest unique file stem per module: its last component, else more of its path joined by '_'."""
    names: dict[str, str] = {}
    depth = {m: 1 for m in modules}
    while True:
        stems = {m: "_".join(m.split(".")[-depth[m]:]) for m in modules}
        clashes = {s for s in stems.values() if list(stems.values()).count(s) > 1}
        if not clashes:
            break
        for m in modules:
            if stems[m] in clashes:
                if depth[m] >= len(m.split(".")):
                    raise RemoteCodeError(f"cannot give {m!r} a unique flat file name")
                depth[m] += 1
    names.update(stems)
    return names


def _collect(roots: list[str]) -> dict[str, tuple[str, ast.AST, list]]:
    """Every hf_last module reachable from ``roots`` through rewritable imports."""
    seen: dict[str, tuple[str, ast.AST, list]] = {}
    queue = list(roots)
    while queue:
        name = queue.pop()
        if name in seen:
            continue
        if not (name == PACKAGE or name.startswith(PACKAGE + ".")):
            raise RemoteCodeError(f"{name!r} is outside {PACKAGE}; remote code only bundles {PACKAGE} modules")
        source = _module_file(name).read_text(encoding="utf-8")
        tree = ast.parse(source)
        imports = _package_imports(name, tree)
        seen[name] = (source, tree, imports)
        queue.extend(target for _, target in imports)
    return seen


def _rewrite(module_name: str, source: str, imports: list, flat: dict[str, str]) -> str:
    lines = source.splitlines(keepends=True)
    # replace from the bottom so earlier line numbers stay valid
    for node, target in sorted(imports, key=lambda item: item[0].lineno, reverse=True):
        names = ", ".join(a.name + (f" as {a.asname}" if a.asname else "") for a in node.names)
        indent = lines[node.lineno - 1][: node.col_offset]
        new = f"{indent}from .{flat[target]} import {names}\n"
        lines[node.lineno - 1: node.end_lineno] = [new]
    origin = module_name.replace(".", "/") + ".py"
    header = (f"# Generated by hf_last.hub.remote_code from {origin} for `trust_remote_code=True` users "
              f"without {PACKAGE} installed.\n# Edit the source in {PACKAGE}, not this copy.\n")
    return header + "".join(lines)


def bundle_remote_code(model_or_config) -> RemoteCodeBundle:
    """Flat modeling files and ``auto_map`` for a hf_last model (or config).

    The entry points are the registered config class and its ``AutoModel`` and
    ``AutoModelForSequenceClassification`` classes (registered when the ``hf_last`` package is imported, which
    importing this module does first).
    """
    from transformers import AutoModel, AutoModelForSequenceClassification

    config = getattr(model_or_config, "config", model_or_config)
    config_class = type(config)
    entry = {"AutoConfig": config_class}
    for auto in (AutoModel, AutoModelForSequenceClassification):
        try:
            entry[auto.__name__] = auto._model_mapping[config_class]
        except KeyError:
            pass
    if hasattr(model_or_config, "config") and type(model_or_config) not in entry.values():
        raise RemoteCodeError(f"{type(model_or_config).__name__} is not a registered auto class of "
                              f"{config_class.__name__}; remote code cannot load it")
    for cls in entry.values():
        if not cls.__module__.startswith(PACKAGE + "."):
            raise RemoteCodeError(f"{cls.__name__} is defined outside {PACKAGE} ({cls.__module__})")
    collected = _collect(sorted({cls.__module__ for cls in entry.values()}))
    modules = sorted(collected)
    flat = _flat_names(modules)
    files = {}
    for m in modules:
        source, _, imports = collected[m]
        files[f"{flat[m]}.py"] = _rewrite(m, source, imports, flat)
    auto_map = {auto: f"{flat[cls.__module__]}.{cls.__name__}" for auto, cls in entry.items()}
    return RemoteCodeBundle(files=files, auto_map=auto_map, modules={m: f"{flat[m]}.py" for m in modules})


def add_auto_map(config_path, auto_map: dict[str, str]) -> None:
    """Write ``auto_map`` into a saved ``config.json`` (the in-memory config is left alone)."""
    path = Path(config_path)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["auto_map"] = dict(auto_map)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


__all__ = ["RemoteCodeBundle", "RemoteCodeError", "add_auto_map", "bundle_remote_code"]
