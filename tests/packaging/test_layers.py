"""The import layers of CONTRIBUTING.md ("Layers"), read from the source with ``ast``.

Every module of the package is parsed and every import counts, wherever it stands: at the top,
inside a function or under a condition (a lazy import is still a dependency). An import names
the most specific module it reaches: ``import attentrack.a.b``, ``from attentrack.a import b``
(``b`` a module) and ``from attentrack.a.b import name`` are all edges to ``attentrack.a.b``;
relative imports are resolved first. Importing a module is not counted as importing its parent
packages (the package ``__init__`` modules a base module runs are base modules themselves).

Checked:

1. the base layer (:data:`BASE_MODULES` and the packages of :data:`BASE_PACKAGES`) imports
   only the standard library, numpy, OpenCV and other base modules;
2. there is no import cycle at either of two granularities: between modules, and between
   components, a component being a module that sits directly in one of the top-level
   packages, or one of their subpackages as a whole (``attentrack.tracker.sources``,
   ``attentrack.tracker.sqair``, ``attentrack.generative.face``, ``attentrack.tools.cli``);
3. the tracking core, ``attentrack.tracker``, imports nothing from ``attentrack.generative``
   or ``attentrack.saliency`` (their trackers and proposal sources are entry-point plug-ins);
4. every module belongs to one of the :data:`LAYERS` and imports nothing from a later one.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
#: the top-level packages of ``attentrack`` (the repository root is the package's folder)
SUBPACKAGES = ("tracker", "generative", "saliency", "datasets", "tools")

#: base modules outside :data:`BASE_PACKAGES`
BASE_MODULES = frozenset({
    "attentrack",  # the package's __init__ (its public names are loaded on first use)
    "attentrack.tracker",
    "attentrack.tracker.atomic",
    "attentrack.tracker.boxes",
    "attentrack.tracker.camera_motion",
    "attentrack.tracker.draw",
    "attentrack.tracker.errors",
    "attentrack.tracker.foreground",
    "attentrack.tracker.frame_source",
    "attentrack.tracker.sinks",
    "attentrack.tracker.sources",
    "attentrack.tracker.synthetic",
    "attentrack.tracker.tables",
    "attentrack.tracker.termination",
    "attentrack.tracker.tracks",
})
#: packages whose every module is a base module (readers and writers of data sets)
BASE_PACKAGES = ("attentrack.datasets",)
#: the third-party packages a base module may import, besides the standard library
BASE_THIRD_PARTY = frozenset({"numpy", "cv2"})
#: CONTRIBUTING.md's layers after the base, in order: a module belongs to the entry that names it
#: or the package holding it (the longest such name), and may import from its own layer and
#: the ones before it
LAYERS = (
    ("base", ()),  # BASE_MODULES and BASE_PACKAGES
    ("interfaces", ("attentrack.tracker.registry", "attentrack.tracker.base", "attentrack.tracker.proposals",
                    "attentrack.tracker.metrics")),
    ("models", ("attentrack.tracker.weights_file", "attentrack.tracker.weights_upgrade", "attentrack.tracker.training",
                "attentrack.tracker.attention", "attentrack.tracker.backbones", "attentrack.tracker.device",
                "attentrack.tracker.layers", "attentrack.tracker.hart", "attentrack.tracker.sqair",
                "attentrack.tracker.trackers", "attentrack.saliency", "attentrack.generative")),
    ("multi-object tracking", ("attentrack.tracker.runner", "attentrack.tracker.association",
                               "attentrack.tracker.motion", "attentrack.tracker.appearance",
                               "attentrack.tracker.detections")),
    ("running and scoring", ("attentrack.tracker.pipeline", "attentrack.tracker.api", "attentrack.tracker.batch",
                             "attentrack.tracker.protocols")),
    ("command line", ("attentrack.tools", "attentrack.__main__")),
)
#: the tracking core, and the packages it must not import
CORE, PLUG_INS = "attentrack.tracker", ("attentrack.generative", "attentrack.saliency")


@dataclass
class ImportGraph:
    """The imports of every module of the package.

    Attributes:
        files: module name -> its source file.
        edges: module name -> {imported attentrack module: a line that imports it}.
        external: module name -> {top-level name of another imported package: a line}.
    """

    files: dict[str, Path] = field(default_factory=dict)
    edges: dict[str, dict[str, int]] = field(default_factory=dict)
    external: dict[str, dict[str, int]] = field(default_factory=dict)

    def where(self, module: str, line: int) -> str:
        """``path:line`` of a line of ``module``, relative to the repository."""
        return f"{self.files[module].relative_to(REPO)}:{line}"


def module_files() -> dict[str, Path]:
    """``attentrack.*`` module name -> file, for the root modules and every module of a folder
    that holds an ``__init__.py`` under :data:`SUBPACKAGES` (a package's ``__init__.py`` is
    the package's own name)."""
    files = {"attentrack": REPO / "__init__.py", "attentrack.__main__": REPO / "__main__.py"}
    for top in SUBPACKAGES:
        for init in (REPO / top).rglob("__init__.py"):
            for path in init.parent.glob("*.py"):
                parts = path.relative_to(REPO).with_suffix("").parts
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                files[".".join(("attentrack", *parts))] = path
    return {name: path for name, path in files.items() if path.is_file()}


def imported_modules(node: ast.Import | ast.ImportFrom, module: str, is_package: bool,
                     known: set[str]) -> list[str]:
    """The dotted names an ``import`` or ``from ... import`` statement of ``module`` reaches:
    relative names made absolute, and an ``attentrack`` name cut back to the most specific
    module of ``known`` it names (``from a import b`` reaches ``a.b`` when that is a module,
    else ``a``); other packages' names are left as they are."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module.split(".") if is_package else module.split(".")[:-1]
            anchor = package[: len(package) - node.level + 1]
            base = ".".join([*anchor, base] if base else anchor)
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
    out = []
    for name in names:
        if name.split(".")[0] == "attentrack":
            while name not in known and "." in name:
                name = name.rpartition(".")[0]
        out.append(name)
    return out


def build_graph() -> ImportGraph:
    """Parse every module of the package and collect its imports."""
    graph = ImportGraph(files=module_files())
    known = set(graph.files)
    for module, path in graph.files.items():
        edges, external = graph.edges.setdefault(module, {}), graph.external.setdefault(module, {})
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for name in imported_modules(node, module, path.name == "__init__.py", known):
                if name.split(".")[0] != "attentrack":
                    external.setdefault(name.split(".")[0], node.lineno)
                elif name != module:
                    edges.setdefault(name, node.lineno)
    return graph


def component(module: str) -> str:
    """The component of ``module``: ``attentrack.<package>.<module or subpackage>``."""
    return ".".join(module.split(".")[:3])


def find_cycle(edges: dict[str, set[str]]) -> list[str]:
    """One cycle of a directed graph as ``[a, b, ..., a]``, or ``[]`` when it has none
    (an iterative depth-first search)."""
    done: set[str] = set()
    for start in sorted(edges):
        if start in done:
            continue
        path, todo = [start], [iter(sorted(edges[start]))]
        while todo:
            nxt = next(todo[-1], None)
            if nxt is None:
                done.add(path.pop())
                todo.pop()
            elif nxt in path:
                return path[path.index(nxt):] + [nxt]
            elif nxt not in done:
                path.append(nxt)
                todo.append(iter(sorted(edges.get(nxt, ()))))
    return []


def is_base(module: str) -> bool:
    """Whether ``module`` is in the base layer."""
    return module in BASE_MODULES or any(module == p or module.startswith(p + ".") for p in BASE_PACKAGES)


def layer_of(module: str) -> int | None:
    """The index in :data:`LAYERS` of ``module``'s layer (None: in none)."""
    if is_base(module):
        return 0
    owners = [(len(name), index) for index, (_, names) in enumerate(LAYERS) for name in names
              if module == name or module.startswith(name + ".")]
    return max(owners)[1] if owners else None


@pytest.fixture(scope="module")
def graph() -> ImportGraph:
    return build_graph()


def test_the_graph_sees_lazy_and_relative_imports():
    tree = ast.parse("import os.path\n"
                     "def f():\n"
                     "    from . import b\n"
                     "    from .b import c, VALUE\n"
                     "    import attentrack.x.y as z\n")
    known = {"attentrack.pkg", "attentrack.pkg.mod", "attentrack.pkg.b", "attentrack.pkg.b.c", "attentrack.x"}
    found = [imported_modules(n, "attentrack.pkg.mod", False, known) for n in ast.walk(tree)
             if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert found == [["os.path"], ["attentrack.pkg.b"], ["attentrack.pkg.b.c", "attentrack.pkg.b"], ["attentrack.x"]]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_every_named_base_module_exists(graph):
    missing = sorted((BASE_MODULES | set(BASE_PACKAGES)) - set(graph.files))
    assert not missing, f"no such module: {', '.join(missing)}"


def test_the_base_layer_imports_nothing_above_it(graph):
    allowed = BASE_THIRD_PARTY | set(sys.stdlib_module_names)
    bad = []
    for module in sorted(filter(is_base, graph.files)):
        bad += [f"{graph.where(module, line)}: {module} imports {target}"
                for target, line in graph.edges[module].items() if not is_base(target)]
        bad += [f"{graph.where(module, line)}: {module} imports {name}"
                for name, line in graph.external[module].items() if name not in allowed]
    assert not bad, "\n".join(bad)


def test_no_import_cycle_between_modules(graph):
    cycle = find_cycle({m: set(targets) for m, targets in graph.edges.items()})
    assert not cycle, " -> ".join(cycle)


def test_no_import_cycle_between_components(graph):
    edges: dict[str, set[str]] = {}
    for module, targets in graph.edges.items():
        edges.setdefault(component(module), set()).update(
            component(t) for t in targets if component(t) != component(module))
    cycle = find_cycle(edges)
    assert not cycle, " -> ".join(cycle)


def test_the_tracking_core_imports_no_plug_in_package(graph):
    bad = [f"{graph.where(module, line)}: {module} imports {target}"
           for module in sorted(graph.files) if module == CORE or module.startswith(CORE + ".")
           for target, line in graph.edges[module].items() if target.startswith(PLUG_INS)]
    assert not bad, "\n".join(bad)


def test_every_module_has_a_layer_and_imports_no_later_one(graph):
    unplaced = sorted(m for m in graph.files if layer_of(m) is None)
    assert not unplaced, f"add to LAYERS (and CONTRIBUTING.md): {', '.join(unplaced)}"
    bad = [f"{graph.where(module, line)}: {module} ({LAYERS[layer_of(module)][0]}) imports {target} "
           f"({LAYERS[layer_of(target)][0]})"
           for module in sorted(graph.files) for target, line in graph.edges[module].items()
           if layer_of(target) > layer_of(module)]
    assert not bad, "\n".join(bad)
